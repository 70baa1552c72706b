package deploy_test

import (
	"debug/elf"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// TestDockerfileBuildsStaticBinaries runs the build stage's own go build
// commands (no container engine needed) and checks what the distroless
// final stage requires of them: static executables with no interpreter
// (distroless/static has no libc), the version stamped in, and a
// healthcheck that really asks /readyz.
//
// It compiles the whole bot again, without the race detector and with the
// image's flags: minutes on a cold build cache, for an artifact rather than
// behaviour. So it runs only when IDPBOT_BUILD_TEST is set, which .ci/run
// does in a step of its own, and is skipped by `make test`.
func TestDockerfileBuildsStaticBinaries(t *testing.T) {
	t.Parallel()
	if os.Getenv("IDPBOT_BUILD_TEST") == "" {
		t.Skip("builds the binaries as the Dockerfile does; run with IDPBOT_BUILD_TEST=1 (.ci/run does)")
	}
	stages := parseDockerfile(t, string(readFile(t, "Dockerfile")))
	var script string
	for _, in := range stages[0].Instructions {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "./cmd/bot") {
			script = in.Args
		}
	}
	// The shell command after the RUN's --mount options.
	for strings.HasPrefix(script, "--") {
		_, script, _ = strings.Cut(script, " ")
		script = strings.TrimSpace(script)
	}
	if script == "" {
		t.Fatal("no RUN builds ./cmd/bot")
	}
	out := t.TempDir()
	script = strings.ReplaceAll(script, "/out/", out+"/")
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "VERSION=v9.9.9-imagetest")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build commands failed: %v\n%s", err, b)
	}
	for _, name := range []string{"idpbot", "healthcheck"} {
		f, err := elf.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked (%s): it would not start on distroless/static", name, p.Type)
			}
		}
		f.Close()
	}
	if b, err := exec.Command(filepath.Join(out, "idpbot"), "version").CombinedOutput(); err != nil || !strings.Contains(string(b), "v9.9.9-imagetest") {
		t.Errorf("idpbot version = %q, %v; want the VERSION build argument", b, err)
	}

	// The healthcheck asks the port of IDPBOT_HTTP_ADDR on the loopback.
	var notReady atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || notReady.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	check := func() error {
		c := exec.Command(filepath.Join(out, "healthcheck"))
		c.Env = []string{"IDPBOT_HTTP_ADDR=:" + port}
		return c.Run()
	}
	if err := check(); err != nil {
		t.Errorf("healthcheck against a ready bot = %v, want exit 0", err)
	}
	notReady.Store(true)
	if err := check(); err == nil {
		t.Error("healthcheck against a bot that is not ready exited 0")
	}
}
