package deploy_test

import (
	"debug/elf"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
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

// TestExecDockerfile checks the exec driver's derived image without
// building it (that needs the network for OpenTofu): every file it copies
// from the repository exists, OpenTofu is pinned by version and verified by
// a checksum with no default, its tools are installed, and it runs the bot
// as the shipped image does.
func TestExecDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, string(readFile(t, "drivers/Dockerfile.exec")))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile.exec has %d stages, want a build stage and the image", len(stages))
	}
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.From, "debian:") || !strings.HasSuffix(final.From, "-slim") {
		t.Errorf("final stage FROM %s, want a Debian slim base with a shell", final.From)
	}
	var all []instruction
	for _, st := range stages {
		all = append(all, st.Instructions...)
	}
	var copied []string
	var sawSum, sawChecksumArg, sawVersionArg bool
	for _, in := range all {
		switch in.Cmd {
		case "COPY":
			fields := strings.Fields(in.Args)
			if slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--from=") }) {
				continue
			}
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--") })
			for _, src := range fields[:len(fields)-1] {
				copied = append(copied, src)
				// The build context is the repository root.
				if _, err := os.Stat(filepath.Join("..", filepath.FromSlash(src))); err != nil {
					t.Errorf("Dockerfile.exec copies %s, which does not exist: %v", src, err)
				}
			}
		case "ARG":
			switch name, def, hasDef := strings.Cut(in.Args, "="); name {
			case "TOFU_SHA256":
				sawChecksumArg = true
				if hasDef {
					t.Errorf("ARG TOFU_SHA256 has a default %q: the checksum must be given for the pinned release", def)
				}
			case "TOFU_VERSION":
				sawVersionArg = hasDef && regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(def)
			}
		case "RUN":
			if strings.Contains(in.Args, "sha256sum -c") && strings.Contains(in.Args, "${TOFU_SHA256}") {
				sawSum = true
			}
		}
	}
	for _, want := range []string{"deploy/drivers/tofu-wrapper.sh", "deploy/drivers/modules"} {
		if !slices.Contains(copied, want) {
			t.Errorf("Dockerfile.exec does not copy %s; copies %v", want, copied)
		}
	}
	if !sawVersionArg || !sawChecksumArg || !sawSum {
		t.Errorf("OpenTofu pinning: version arg %v, checksum arg %v, sha256sum -c of it %v; want all", sawVersionArg, sawChecksumArg, sawSum)
	}
	var tools, entry, user string
	for _, in := range final.Instructions {
		switch in.Cmd {
		case "RUN":
			tools += in.Args
		case "ENTRYPOINT":
			entry = in.Args
		case "USER":
			user = in.Args
		}
	}
	if !strings.Contains(tools, " jq ") {
		t.Errorf("the final stage does not install jq (tofu-wrapper.sh needs it): %s", tools)
	}
	if entry != `["/idpbot"]` || user != "65532:65532" {
		t.Errorf("ENTRYPOINT %s USER %s, want the shipped image's [\"/idpbot\"] and 65532:65532", entry, user)
	}
	// The README's build command names this file.
	if readme := string(readFile(t, "drivers/README.md")); !strings.Contains(readme, "-f deploy/drivers/Dockerfile.exec") {
		t.Error("drivers/README.md does not say how to build Dockerfile.exec")
	}
}
