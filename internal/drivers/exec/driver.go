// Package exec is the provisioner driver that runs a configured command (a
// Terraform/OpenTofu wrapper, a script of the platform team) for each
// request.
//
// The contract with the command:
//   - It is started from an argv (Config.Command), never through a shell,
//     in its own process group.
//   - The environment holds PATH, HOME, LANG, LC_ALL, TMPDIR, TZ and USER
//     of the bot (nothing else of it: the bot's secrets stay out), one
//     IDP_<NAME> per request parameter (name upper-cased, other characters
//     than letters and digits turned into "_"; booleans are "true"/"false"),
//     Config.Env ("NAME=value", or "NAME" to pass the bot's own value
//     through; it wins over a parameter of the same name), and IDP_ACTION
//     (create or delete), IDP_REQUEST_ID, IDP_SERVICE, IDP_NAME, IDP_TEAM,
//     IDP_ENVIRONMENT and IDP_REQUESTER, which win over both.
//   - Stdin carries the whole request as one JSON object (request_id,
//     action, service, name, team, environment, parameters, requester,
//     settings).
//   - Each stdout line is a progress step shown in the request's thread,
//     except lines that start with "{": the last of those must be the
//     result, {"outputs":{...},"secrets":{...}}. Outputs are shown in the
//     thread, secrets only to the requester.
//   - Exit 0 means done. Exit 75 (EX_TEMPFAIL) means try again later. Any
//     other exit fails the request with the last lines of stderr as the
//     reason.
//   - On timeout or cancellation the process group gets SIGTERM, then
//     SIGKILL after Config.KillGrace. When the command exits, whatever it
//     left running in its process group is killed.
//   - A binding's status_command, when set, is run the same way with
//     IDP_ACTION=status to read the live status (see Driver.Status): its
//     stdout is one JSON live-status document, exit 3 means the resource is
//     gone.
package exec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Defaults of Config.
const (
	DefaultTimeout   = 30 * time.Minute
	DefaultKillGrace = 10 * time.Second
	// ExitTempFail is the exit code (EX_TEMPFAIL) that makes the job retry.
	ExitTempFail = 75
	// maxSteps caps the steps one run reports; further lines are dropped.
	maxSteps = 200
	// maxLine is the longest stdout line accepted (a result line may be
	// long); longer lines fail the run.
	maxLine = 1 << 20
	// tailLines is how many stderr lines a failure reports.
	tailLines = 5
)

// Config configures the exec driver.
type Config struct {
	// Command is the argv to run; Command[0] is looked up in PATH when it
	// has no slash.
	Command []string `json:"command,omitempty"`
	// Dir is the working directory (empty: the bot's).
	Dir string `json:"dir,omitempty"`
	// Env are extra environment variables, "NAME=value" or "NAME" to pass
	// the bot's own value through.
	Env []string `json:"env,omitempty"`
	// Timeout bounds one run (default DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// KillGrace is how long the process group has between SIGTERM and
	// SIGKILL (default DefaultKillGrace).
	KillGrace time.Duration `json:"kill_grace,omitempty"`
}

// Driver runs the configured command. It is safe for concurrent use.
type Driver struct{ cfg Config }

var _ platform.Driver = (*Driver)(nil)

// New returns a driver for cfg. It checks the configuration's shape and does
// no I/O; an empty Command is reported by Check.
func New(cfg Config) (*Driver, error) {
	for _, e := range cfg.Env {
		name, _, _ := strings.Cut(e, "=")
		if name == "" || strings.ContainsAny(name, " \t\n\x00") {
			return nil, fmt.Errorf("exec driver: invalid environment entry %q", e)
		}
	}
	if len(cfg.Command) > 0 && cfg.Command[0] == "" {
		return nil, errors.New("exec driver: the command's first element is empty")
	}
	return &Driver{cfg: cfg}, nil
}

// Check returns an Unavailable error when no command is configured or the
// command cannot be found.
func (d *Driver) Check() error {
	if len(d.cfg.Command) == 0 {
		return platform.Errorf(platform.Unavailable, "no exec command configured")
	}
	if _, err := osexec.LookPath(d.cfg.Command[0]); err != nil {
		return platform.Wrap(platform.Unavailable, err, fmt.Sprintf("the exec command %s cannot be run", d.cfg.Command[0]))
	}
	return nil
}

// Timeout bounds one run.
func (d *Driver) Timeout() time.Duration {
	if d.cfg.Timeout > 0 {
		return d.cfg.Timeout
	}
	return DefaultTimeout
}

// Provision runs the command with IDP_ACTION=create and returns the outputs
// and secrets of its result line.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	return d.run(ctx, job, "create")
}

// Deprovision runs the command with IDP_ACTION=delete.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	_, err := d.run(ctx, job, "delete")
	return err
}

// request is the JSON document written to the command's stdin.
type request struct {
	RequestID   int64          `json:"request_id"`
	Action      string         `json:"action"`
	Service     string         `json:"service"`
	Name        string         `json:"name"`
	Team        string         `json:"team"`
	Environment string         `json:"environment"`
	Parameters  map[string]any `json:"parameters"`
	Requester   platform.Actor `json:"requester"`
	Settings    map[string]any `json:"settings,omitempty"`
}

// result is the final JSON line of stdout.
type result struct {
	Outputs map[string]any `json:"outputs"`
	Secrets map[string]any `json:"secrets"`
}

// requestJSON is the request a command reads on its stdin for action.
func requestJSON(job platform.Job, action string) ([]byte, error) {
	r := job.Resource
	params := r.Parameters
	if params == nil {
		params = map[string]any{}
	}
	return json.Marshal(request{
		RequestID: r.ID, Action: action, Service: r.Service, Name: r.Name, Team: r.Team,
		Environment: r.Environment, Parameters: params, Requester: r.Requester, Settings: job.Settings,
	})
}

func (d *Driver) run(ctx context.Context, job platform.Job, action string) (platform.Result, error) {
	if err := d.Check(); err != nil {
		return platform.Result{}, err
	}
	r := job.Resource
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	stdin, err := requestJSON(job, action)
	if err != nil {
		return platform.Result{}, platform.Wrap(platform.Invalid, err, "the request's parameters cannot be passed to the provisioning command")
	}
	step := job.Step
	if step == nil {
		step = func(string) {}
	}

	var out stdoutReader
	tail, waitErr, err := d.spawn(ctx, d.cfg.Command, d.environ(job, action), stdin, func(r io.Reader) { out.read(r, step) })
	if err != nil {
		return platform.Result{}, err
	}

	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return platform.Result{}, fmt.Errorf("%s %s: command timed out after %s: %w", action, r.Name, d.Timeout(), ctxErr)
		}
		return platform.Result{}, fmt.Errorf("%s %s: command stopped: %w", action, r.Name, ctxErr)
	}
	if waitErr != nil {
		var ee *osexec.ExitError
		if !errors.As(waitErr, &ee) {
			return platform.Result{}, fmt.Errorf("%s %s: wait for command: %w", action, r.Name, waitErr)
		}
		reason := tail
		if reason == "" {
			reason = "no error output"
		}
		code := ee.ExitCode()
		switch {
		case code == ExitTempFail:
			return platform.Result{}, fmt.Errorf("%s %s: command asked to retry (exit %d): %s", action, r.Name, code, reason)
		case code < 0:
			// Killed by a signal it was not sent by us (OOM killer): retry.
			return platform.Result{}, fmt.Errorf("%s %s: command killed: %v: %s", action, r.Name, ee, reason)
		}
		operation := "provisioning"
		if action == "delete" {
			operation = "deprovisioning"
		}
		return platform.Result{}, &platform.Error{
			Code:    platform.Invalid,
			Message: fmt.Sprintf("The %s command failed (exit %d): %s", operation, code, reason),
			Err:     waitErr,
		}
	}
	if out.err != nil {
		return platform.Result{}, &platform.Error{Code: platform.Invalid, Message: "The provisioning command's output could not be read: " + out.err.Error(), Err: out.err}
	}
	if action == "delete" {
		return platform.Result{}, nil
	}
	return platform.Result{Outputs: stringValues(out.result.Outputs), Secrets: stringValues(out.result.Secrets)}, nil
}

// spawn runs argv in its own process group with env and stdin, hands its
// stdout to consume, and keeps the last lines of its stderr. When ctx ends
// the group gets SIGTERM, then SIGKILL after KillGrace; once the leader
// exits, whatever is left of the group is killed. It returns the stderr
// tail and the leader's wait error; err is set only when the command could
// not be started.
func (d *Driver) spawn(ctx context.Context, argv, env []string, stdin []byte, consume func(io.Reader)) (tail string, waitErr error, err error) {
	cmd := osexec.Command(argv[0], argv[1:]...)
	cmd.Dir = d.cfg.Dir
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, outW, err := os.Pipe()
	if err != nil {
		return "", nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return "", nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := start(ctx, cmd); err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return "", nil, platform.Wrap(platform.Unavailable, err, fmt.Sprintf("the exec command %s cannot be run", argv[0]))
	}
	outW.Close()
	errW.Close()
	pgid := cmd.Process.Pid

	var wg sync.WaitGroup
	stderrTail := &tailWriter{}
	wg.Add(2)
	go func() { defer wg.Done(); consume(outR) }()
	go func() { defer wg.Done(); _, _ = io.Copy(stderrTail, errR) }()

	// Stop the process group when ctx ends: SIGTERM, then SIGKILL.
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(cmpOr(d.cfg.KillGrace, DefaultKillGrace))
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()

	// Once the leader has exited, nothing of the group may outlive it.
	waitErr = waitLeader(cmd, func() {
		close(exited)
		<-stopped
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		// A process that left the group still holds the pipes.
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()

	return stderrTail.String(), waitErr, nil
}

// start starts cmd, retrying briefly while the executable is busy: a file
// just written can be held open for writing by a process forked in the
// meantime until that process execs (ETXTBSY).
func start(ctx context.Context, cmd *osexec.Cmd) error {
	for i := 1; ; i++ {
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || i == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i) * 10 * time.Millisecond):
		}
		// A Cmd cannot be started twice; start a fresh copy.
		next := osexec.Command(cmd.Path, cmd.Args[1:]...)
		next.Dir, next.Env, next.Stdin, next.Stdout, next.Stderr, next.SysProcAttr = cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr
		*cmd = *next
	}
}

// environ builds the command's environment.
func (d *Driver) environ(job platform.Job, action string) []string {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER"} {
		if v, ok := os.LookupEnv(k); ok {
			set(k, v)
		}
	}
	r := job.Resource
	reserved := map[string]string{
		"IDP_ACTION":      action,
		"IDP_REQUEST_ID":  strconv.FormatInt(r.ID, 10),
		"IDP_SERVICE":     r.Service,
		"IDP_NAME":        r.Name,
		"IDP_TEAM":        r.Team,
		"IDP_ENVIRONMENT": r.Environment,
		"IDP_REQUESTER":   r.Requester.ID,
	}
	for k, v := range r.Parameters {
		name := EnvName(k)
		if _, clash := reserved[name]; clash {
			continue
		}
		set(name, formatValue(v))
	}
	// The operator's settings win over parameters of the same name.
	for _, e := range d.cfg.Env {
		if k, v, ok := strings.Cut(e, "="); ok {
			set(k, v)
		} else if v, ok := os.LookupEnv(k); ok {
			set(k, v)
		}
	}
	for _, k := range []string{"IDP_ACTION", "IDP_REQUEST_ID", "IDP_SERVICE", "IDP_NAME", "IDP_TEAM", "IDP_ENVIRONMENT", "IDP_REQUESTER"} {
		set(k, reserved[k])
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+strings.ReplaceAll(env[k], "\x00", ""))
	}
	return out
}

// EnvName is the environment variable a parameter is passed in:
// "backup_retention_days" → "IDP_BACKUP_RETENTION_DAYS".
func EnvName(param string) string {
	var b strings.Builder
	b.WriteString("IDP_")
	for _, r := range param {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool, int, int32, int64, float64, json.Number:
		return platform.FormatValue(v)
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// stringValues turns a result map's values into strings.
func stringValues(m map[string]any) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = formatValue(v)
	}
	return out
}

// stdoutReader turns stdout lines into steps and keeps the result line.
type stdoutReader struct {
	result  result
	err     error
	steps   int
	dropped bool
}

func (o *stdoutReader) read(r io.Reader, step func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		switch {
		case len(line) == 0:
		case line[0] == '{':
			var res result
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&res); err != nil {
				o.err = errors.New("a line starting with { is not a valid result object")
				continue
			}
			o.result, o.err = res, nil
		case o.steps < maxSteps:
			o.steps++
			step(sanitize(string(line), 300))
		case !o.dropped:
			o.dropped = true
			step(fmt.Sprintf("(more output not shown: over %d lines)", maxSteps))
		}
	}
	if err := sc.Err(); err != nil {
		o.err = fmt.Errorf("a line is longer than %d bytes", maxLine)
		_, _ = io.Copy(io.Discard, r)
	}
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	mu    sync.Mutex
	lines []string
	cur   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range p {
		if c == '\n' {
			t.push()
			continue
		}
		if len(t.cur) < 1024 {
			t.cur = append(t.cur, c)
		}
	}
	return len(p), nil
}

func (t *tailWriter) push() {
	if s := sanitize(string(t.cur), 300); s != "" {
		t.lines = append(t.lines, s)
		if len(t.lines) > tailLines {
			t.lines = t.lines[1:]
		}
	}
	t.cur = t.cur[:0]
}

// String returns the last lines, joined with " | ".
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.cur) > 0 {
		t.push()
	}
	return joinLines(t.lines)
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// sanitize makes script output fit for a chat message: escape sequences
// are removed, then platform.OneLine.
func sanitize(s string, n int) string { return platform.OneLine(stripANSI(s), n) }

// stripANSI removes terminal escape sequences (colours from terraform).
func stripANSI(s string) string {
	if !bytes.ContainsRune([]byte(s), 0x1b) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
		}
	}
	return b.String()
}

func cmpOr(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
