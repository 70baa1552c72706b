package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	osexec "os/exec"

	"github.com/idpbot/idpbot/internal/drivers/livestatus"
	"github.com/idpbot/idpbot/internal/platform"
)

// ActionStatus is IDP_ACTION (and the stdin document's action) of a
// live-status read.
const ActionStatus = "status"

// ExitMissing is the exit code by which a status command says that what
// the resource stands for is gone.
const ExitMissing = 3

var _ platform.StatusReader = (*Driver)(nil)

// Status runs the binding's status_command (an argv, like Config.Command)
// the way Provision runs the command (same environment with
// IDP_ACTION=status, the request on stdin, working directory, timeout,
// kill grace and output limit) and decodes its stdout as a live-status
// document (package livestatus). Exit 3 means Missing; any other non-zero
// exit, a timeout or a malformed document is an error. Without a
// status_command it returns platform.ErrNoStatus.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	r := job.Resource
	if r == nil {
		return platform.LiveStatus{}, platform.Errorf(platform.Internal, "no resource in the job")
	}
	argv, err := StatusCommand(job.Settings)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	if argv == nil {
		return platform.LiveStatus{}, platform.ErrNoStatus
	}
	if _, err := osexec.LookPath(argv[0]); err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Unavailable, err, fmt.Sprintf("the exec status command %s cannot be run", argv[0]))
	}
	stdin, err := requestJSON(job, ActionStatus)
	if err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Invalid, err, "the request's parameters cannot be passed to the status command")
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	var out limitedBuffer
	tail, waitErr, err := d.spawn(ctx, argv, d.environ(job, ActionStatus), stdin, out.read)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return platform.LiveStatus{}, fmt.Errorf("status of %s: command stopped: %w", r.Name, ctxErr)
	}
	if waitErr != nil {
		var ee *osexec.ExitError
		if !errors.As(waitErr, &ee) {
			return platform.LiveStatus{}, fmt.Errorf("status of %s: wait for command: %w", r.Name, waitErr)
		}
		if ee.ExitCode() == ExitMissing {
			return platform.LiveStatus{
				Health:  platform.Missing,
				Summary: "The status command says it no longer exists.",
				Checks:  []platform.LiveCheck{{Name: "status command", Recorded: "exists", Live: fmt.Sprintf("exit %d", ExitMissing)}},
			}, nil
		}
		reason := tail
		if reason == "" {
			reason = "no error output"
		}
		return platform.LiveStatus{}, &platform.Error{
			Code:    platform.Unavailable,
			Message: fmt.Sprintf("The status command failed (exit %d): %s", ee.ExitCode(), reason),
			Err:     waitErr,
		}
	}
	if out.over {
		return platform.LiveStatus{}, platform.Errorf(platform.Unavailable, "The status command wrote more than %d bytes", maxLine)
	}
	st, err := livestatus.Decode(out.buf.Bytes())
	if err != nil {
		return platform.LiveStatus{}, platform.Wrap(platform.Unavailable, err, "The status command did not write a valid live-status document: "+err.Error())
	}
	return st, nil
}

// StatusCommand returns the binding's status_command as an argv: nil when
// the binding has none, an Invalid error when it is not a non-empty list
// of strings.
func StatusCommand(settings map[string]any) ([]string, error) {
	v, ok := settings["status_command"]
	if !ok || v == nil {
		return nil, nil
	}
	bad := platform.Errorf(platform.Invalid, "the exec binding's status_command must be a list of strings, the command and its arguments")
	var argv []string
	switch v := v.(type) {
	case []string:
		argv = v
	case []any:
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, bad
			}
			argv = append(argv, s)
		}
	default:
		return nil, bad
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, bad
	}
	return argv, nil
}

// limitedBuffer keeps up to maxLine bytes of what it reads, and whether
// there was more.
type limitedBuffer struct {
	buf  bytes.Buffer
	over bool
}

func (b *limitedBuffer) read(r io.Reader) {
	n, _ := io.Copy(&b.buf, io.LimitReader(r, maxLine))
	if n == maxLine {
		if m, _ := io.Copy(io.Discard, r); m > 0 {
			b.over = true
		}
	}
}
