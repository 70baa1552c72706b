package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// localPostgres is a private PostgreSQL cluster the bot runs for itself when
// no server answers at the default address but PostgreSQL's binaries are
// installed: the console then works on a machine with nothing set up.
type localPostgres struct {
	bin  string // directory of initdb, pg_ctl
	dir  string // the cluster's data directory
	port int
	cred *syscall.Credential // who runs the server (nil: the bot's user)
}

// postgresBinDir finds the newest installed PostgreSQL's binaries.
func postgresBinDir() (string, bool) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorVersion(dirs[i]) > majorVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, true
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, true
		}
	}
	return "", false
}

func majorVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// newLocalPostgres prepares a cluster under dir. PostgreSQL refuses to run
// as root, so a root bot runs it as the postgres user (or nobody), which
// must be able to reach dir.
func newLocalPostgres(bin, dir string) (*localPostgres, error) {
	lp := &localPostgres{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			if u, err = user.Lookup("nobody"); err != nil {
				return nil, errors.New("running as root, and there is no postgres or nobody user to run PostgreSQL as")
			}
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		lp.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return lp, nil
}

// URL is the cluster's connection URL for database db.
func (lp *localPostgres) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(lp.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func (lp *localPostgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(lp.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if lp.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: lp.cred}
	}
	return cmd
}

func (lp *localPostgres) run(ctx context.Context, name string, args ...string) error {
	out, err := lp.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(platform.LastLines(string(out), 5)))
	}
	return nil
}

// Start initialises the cluster on first use (trust authentication, on
// 127.0.0.1 only, at a port it keeps) and starts it.
func (lp *localPostgres) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(lp.dir), 0o755); err != nil {
		return err
	}
	portFile := filepath.Join(filepath.Dir(lp.dir), "postgres.port")
	if b, err := os.ReadFile(portFile); err == nil {
		lp.port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if lp.port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lp.port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if err := os.WriteFile(portFile, []byte(strconv.Itoa(lp.port)+"\n"), 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(lp.dir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(lp.dir, 0o700); err != nil {
			return err
		}
		if lp.cred != nil {
			if err := os.Chown(lp.dir, int(lp.cred.Uid), int(lp.cred.Gid)); err != nil {
				return err
			}
		}
		if err := lp.run(ctx, "initdb", "-D", lp.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
			return err
		}
	}
	if lp.ready(ctx) {
		return nil // left running by an earlier bot
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", lp.port, lp.dir)
	return lp.run(ctx, "pg_ctl", "-D", lp.dir, "-o", opts, "-l", filepath.Join(lp.dir, "server.log"), "-w", "-t", "60", "start")
}

func (lp *localPostgres) ready(ctx context.Context) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(lp.port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop stops the cluster (fast: sessions are ended).
func (lp *localPostgres) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return lp.run(ctx, "pg_ctl", "-D", lp.dir, "-m", "fast", "-w", "stop")
}

// localClusterDir is where the private cluster lives: in the data
// directory, or for a root bot whose data directory the postgres user
// cannot reach (under /root), in /var/lib/idpbot.
func localClusterDir(g env) string {
	dir := dataDir(g)
	if os.Geteuid() == 0 && g("IDPBOT_DATA_DIR") == "" {
		dir = "/var/lib/idpbot"
	}
	return filepath.Join(dir, "postgres")
}
