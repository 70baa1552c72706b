//go:build !linux

package exec

import osexec "os/exec"

// waitLeader waits for cmd's process to exit and then calls beforeReap.
func waitLeader(cmd *osexec.Cmd, beforeReap func()) error {
	err := cmd.Wait()
	beforeReap()
	return err
}
