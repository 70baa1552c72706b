package exec

import (
	osexec "os/exec"

	"golang.org/x/sys/unix"
)

// waitLeader waits for cmd's process to exit, calls beforeReap while the
// exited process still holds its pid (so the process group id cannot be
// reused by then), and reaps it.
func waitLeader(cmd *osexec.Cmd, beforeReap func()) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	beforeReap()
	return cmd.Wait()
}
