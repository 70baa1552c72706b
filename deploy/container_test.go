package deploy_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, …
	Args string
}

// stage is one FROM … of a multi-stage Dockerfile.
type stage struct {
	From         string // the image, build args substituted
	Name         string
	Instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages, substituting the global
// ARG defaults in FROM lines.
func parseDockerfile(t *testing.T, content string) []stage {
	t.Helper()
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(content, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur.Len() == 0 {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	args := map[string]string{}
	var stages []stage
	for _, l := range lines {
		cmd, rest, _ := strings.Cut(l, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(rest)}
		switch {
		case in.Cmd == "ARG" && len(stages) == 0:
			name, def, _ := strings.Cut(in.Args, "=")
			args[name] = def
		case in.Cmd == "FROM":
			fields := strings.Fields(in.Args)
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--platform=") })
			st := stage{From: os.Expand(fields[0], func(k string) string { return args[k] })}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0:
			t.Fatalf("Dockerfile: %s before the first FROM", in.Cmd)
		default:
			stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
		}
	}
	return stages
}

// find returns the stage's instructions of one kind.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes the JSON (exec) form of ENTRYPOINT, CMD or HEALTHCHECK CMD.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Errorf("%s %s: want the exec form [\"…\"]: %v", what, args, err)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, string(readFile(t, "Dockerfile")))
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, final)", len(stages))
	}
	build, final := stages[0], stages[1]

	// The builder's Go is the module's.
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(readFile(t, "../go.mod")))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "golang:" + goVersion[1]; build.From != want && !strings.HasPrefix(build.From, want+"-") && !strings.HasPrefix(build.From, want+".") {
		t.Errorf("build stage FROM %s, want %s (go.mod says go %s)", build.From, want, goVersion[1])
	}
	var built, cached, healthcheckBuilt bool
	for _, run := range build.find("RUN") {
		a := run.Args
		if strings.Contains(a, "--mount=type=cache,target=/go/pkg/mod") {
			cached = true
		}
		if strings.Contains(a, "./cmd/bot") {
			built = true
			if !strings.Contains(a, "--mount=type=cache,target=/root/.cache/go-build") {
				t.Errorf("the RUN that builds ./cmd/bot does not cache builds: %s", a)
			}
			for _, cmd := range strings.Split(a, "&&") {
				if !strings.Contains(cmd, "./cmd/bot") {
					continue
				}
				for _, want := range []string{"CGO_ENABLED=0", "go build", "-trimpath", "-X main.version=", "-o /out/idpbot ./cmd/bot"} {
					if !strings.Contains(cmd, want) {
						t.Errorf("the command that builds ./cmd/bot lacks %q: %s", want, cmd)
					}
				}
			}
		}
		if strings.Contains(a, "-o /out/healthcheck ./deploy/healthcheck") {
			healthcheckBuilt = true
		}
	}
	if !built || !cached || !healthcheckBuilt {
		t.Errorf("build stage: builds ./cmd/bot %v, caches modules %v, builds ./deploy/healthcheck %v; want all", built, cached, healthcheckBuilt)
	}
	for _, dir := range []string{"../cmd/bot", "healthcheck"} {
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			t.Errorf("the image builds %s: %v", dir, err)
		}
	}
	// -X main.version=… only works if package main declares it.
	if !declaresStringVar(t, "../cmd/bot", "version") {
		t.Error("cmd/bot declares no package-level string var version for -X main.version")
	}

	if final.From != "gcr.io/distroless/static-debian12:nonroot" && final.From != "scratch" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.From)
	}
	copies := map[string]bool{}
	for _, c := range final.find("COPY") {
		copies[c.Args] = true
	}
	for _, want := range []string{"--from=" + build.Name + " /out/idpbot /idpbot", "--from=" + build.Name + " /out/healthcheck /healthcheck"} {
		if !copies[want] {
			t.Errorf("final stage lacks COPY %s", want)
		}
	}
	if u := final.find("USER"); len(u) != 1 || (u[0].Args != strconv.Itoa(nonrootUID) && u[0].Args != strconv.Itoa(nonrootUID)+":"+strconv.Itoa(nonrootUID)) {
		t.Errorf("USER = %+v, want %d (numeric, so runAsNonRoot can verify it)", u, nonrootUID)
	}
	if e := final.find("EXPOSE"); len(e) != 1 || e[0].Args != strconv.Itoa(httpPort) {
		t.Errorf("EXPOSE = %+v, want %d", e, httpPort)
	}
	if e := final.find("ENTRYPOINT"); len(e) != 1 || !slices.Equal(execForm(t, "ENTRYPOINT", e[0].Args), []string{"/idpbot"}) {
		t.Errorf("ENTRYPOINT = %+v, want [\"/idpbot\"]", e)
	}
	if c := final.find("CMD"); len(c) != 1 || !slices.Equal(execForm(t, "CMD", c[0].Args), []string{"serve"}) {
		t.Errorf("CMD = %+v, want [\"serve\"]", c)
	}
	if h := final.find("HEALTHCHECK"); len(h) != 1 || !strings.HasSuffix(h[0].Args, `CMD ["/healthcheck"]`) {
		t.Errorf("HEALTHCHECK = %+v, want … CMD [\"/healthcheck\"]", h)
	}
	var labels string
	for _, l := range final.find("LABEL") {
		labels += l.Args
	}
	for _, want := range []string{"org.opencontainers.image.source=", "org.opencontainers.image.title=", "org.opencontainers.image.version="} {
		if !strings.Contains(labels, want) {
			t.Errorf("final stage lacks LABEL %s…", want)
		}
	}
}

// declaresStringVar reports whether the Go package in dir declares a
// package-level variable name initialised with a string.
func declaresStringVar(t *testing.T, dir, name string) bool {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name != name {
						continue
					}
					if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
						return true
					}
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// dockerignore holds the patterns of a .dockerignore file.
type dockerignore []string

// excluded reports whether the build context leaves out path (slash
// separated, relative to the context): the last matching pattern decides,
// and a pattern matching a parent directory matches everything under it.
func (d dockerignore) excluded(p string) bool {
	var out bool
	for _, pat := range d {
		neg := strings.HasPrefix(pat, "!")
		pat = path.Clean(strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"))
		re := dockerignorePattern(pat)
		for q := p; q != "." && q != "/"; q = path.Dir(q) {
			if re.MatchString(q) {
				out = !neg
				break
			}
		}
	}
	return out
}

// dockerignorePattern translates a .dockerignore pattern: ** matches any
// number of directories, * and ? stay within one.
func dockerignorePattern(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case strings.HasPrefix(pat[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pat[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func loadDockerignore(t *testing.T) dockerignore {
	t.Helper()
	var d dockerignore
	for _, l := range strings.Split(string(readFile(t, "../.dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			d = append(d, l)
		}
	}
	return d
}

func TestDockerignorePattern(t *testing.T) {
	t.Parallel()
	d := dockerignore{".git", "**/.env", "*.md", "deploy/grafana", "bin", "!bin/keep"}
	for p, want := range map[string]bool{
		".git/config": true, ".env": true, "deploy/.env": true, "README.md": true,
		"docs/x.md": false, "deploy/grafana/idpbot.json": true, "deploy/Dockerfile": false,
		"bin/idpbot": true, "bin/keep": false, "cmd/bot/main.go": false, "gitx": false,
	} {
		if got := d.excluded(p); got != want {
			t.Errorf("excluded(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	d := loadDockerignore(t)
	// Everything the build compiles or embeds is in the context.
	need := []string{"go.mod", "go.sum", "deploy/healthcheck/main.go"}
	for _, root := range []string{"cmd", "internal", "catalog", "migrations"} {
		err := filepath.WalkDir(filepath.Join("..", root), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || strings.HasSuffix(p, "_test.go") || strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
				return err
			}
			rel, _ := filepath.Rel("..", p)
			need = append(need, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(need) < 10 {
		t.Fatalf("found only %d source files; run from deploy/", len(need))
	}
	for _, p := range need {
		if d.excluded(p) {
			t.Errorf(".dockerignore leaves out %s, which the image build needs", p)
		}
	}
	// Secrets and history stay out.
	for _, p := range []string{".git/HEAD", ".env", "deploy/.env", "bin/idpbot", ".data/secret.key"} {
		if !d.excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

// compose is the part of the Compose specification deploy/compose.yaml uses.
type compose struct {
	Name     string                     `json:"name"`
	Services map[string]composeService  `json:"services"`
	Volumes  map[string]json.RawMessage `json:"volumes"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Args       map[string]string `json:"args"`
	} `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	EnvFile     []string          `json:"env_file"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Volumes     []string `json:"volumes"`
	Ports       []string `json:"ports"`
	ReadOnly    bool     `json:"read_only"`
	Tmpfs       []string `json:"tmpfs"`
	CapDrop     []string `json:"cap_drop"`
	SecurityOpt []string `json:"security_opt"`
	User        string   `json:"user"`
	Healthcheck *struct {
		Test        []string `json:"test"`
		Interval    string   `json:"interval"`
		Timeout     string   `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod string   `json:"start_period"`
	} `json:"healthcheck"`
	StopGracePeriod string `json:"stop_grace_period"`
	Restart         string `json:"restart"`
}

func TestCompose(t *testing.T) {
	t.Parallel()
	var c compose
	decodeYAML(t, "compose.yaml", &c)
	pg, ok := c.Services["postgres"]
	if !ok {
		t.Fatal("compose.yaml has no postgres service")
	}
	bot, ok := c.Services["idpbot"]
	if !ok {
		t.Fatal("compose.yaml has no idpbot service")
	}
	if !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Errorf("postgres image = %q, want postgres:16…", pg.Image)
	}
	if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres healthcheck = %+v, want pg_isready", pg.Healthcheck)
	}

	if bot.Build == nil || bot.Build.Context != ".." || bot.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("idpbot build = %+v, want context .. and dockerfile deploy/Dockerfile", bot.Build)
	} else if _, err := os.Stat(filepath.Join(bot.Build.Context, bot.Build.Dockerfile)); err != nil {
		t.Errorf("idpbot build: %v", err)
	}
	if len(bot.Command) > 0 && !slices.Equal(bot.Command, []string{"serve"}) {
		t.Errorf("idpbot command = %q, want serve", bot.Command)
	}
	if bot.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("idpbot depends_on = %+v, want postgres: service_healthy", bot.DependsOn)
	}
	if bot.Healthcheck == nil || !slices.Equal(bot.Healthcheck.Test, []string{"CMD", "/healthcheck"}) {
		t.Errorf("idpbot healthcheck = %+v, want [CMD /healthcheck] (the image has no shell)", bot.Healthcheck)
	}
	if want := strconv.Itoa(httpPort) + ":" + strconv.Itoa(httpPort); !slices.Contains(bot.Ports, want) {
		t.Errorf("idpbot ports = %q, want %s", bot.Ports, want)
	}
	if !bot.ReadOnly || !slices.Contains(bot.CapDrop, "ALL") || !slices.Contains(bot.Tmpfs, "/tmp") {
		t.Errorf("idpbot: read_only %v, cap_drop %q, tmpfs %q; want read_only, cap_drop ALL, tmpfs /tmp", bot.ReadOnly, bot.CapDrop, bot.Tmpfs)
	}

	env := bot.Environment
	checkEnvNames(t, "compose.yaml", slices.Collect(func(yield func(string) bool) {
		for k := range env {
			if !yield(k) {
				return
			}
		}
	}))
	// DATABASE_URL points at the postgres service and its database.
	pgEnv := map[string]string{}
	for k, v := range pg.Environment {
		pgEnv[k] = composeDefaults(v)
	}
	u, err := url.Parse(composeDefaults(env["DATABASE_URL"]))
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	if u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Port() != "5432" || u.Path != "/"+pgEnv["POSTGRES_DB"] {
		t.Errorf("DATABASE_URL = %s, want postgres://…@postgres:5432/%s", u, pgEnv["POSTGRES_DB"])
	}
	if pw, _ := u.User.Password(); u.User.Username() != pgEnv["POSTGRES_USER"] || pw != pgEnv["POSTGRES_PASSWORD"] {
		t.Errorf("DATABASE_URL user %s does not match POSTGRES_USER/POSTGRES_PASSWORD", u.User)
	}
	// The secret key is generated by the user, never committed.
	if !strings.HasPrefix(env["IDPBOT_SECRET_KEY"], "${IDPBOT_SECRET_KEY:?") {
		t.Errorf("IDPBOT_SECRET_KEY = %q, want ${IDPBOT_SECRET_KEY:?…} so Compose refuses to start without one", env["IDPBOT_SECRET_KEY"])
	}
	for k, v := range env {
		if strings.Contains(k, "TOKEN") && v != "${"+k+":-}" {
			t.Errorf("%s = %q, want ${%s:-} (from the caller's environment)", k, v, k)
		}
	}
	// The config file is mounted where IDPBOT_CONFIG says.
	var mounted bool
	for _, v := range bot.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == env["IDPBOT_CONFIG"] {
			mounted = true
			if _, err := os.Stat(parts[0]); err != nil {
				t.Errorf("config volume %s: %v", v, err)
			}
		}
	}
	if !mounted || env["IDPBOT_CONFIG"] != configPath {
		t.Errorf("IDPBOT_CONFIG = %q mounted %v, want %s mounted from a file", env["IDPBOT_CONFIG"], mounted, configPath)
	}
}

// composeDefaults interpolates a Compose value as Compose does with an empty
// environment: ${NAME:-default} becomes default, ${NAME} becomes "".
func composeDefaults(s string) string {
	return os.Expand(s, func(k string) string {
		if _, def, ok := strings.Cut(k, ":-"); ok {
			return def
		}
		return ""
	})
}
