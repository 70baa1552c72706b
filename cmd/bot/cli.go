package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"runtime/debug"
	"time"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/drivers/manifests"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

// defaultDatabaseURL is used when DATABASE_URL is not set.
const defaultDatabaseURL = "postgres://postgres@localhost:5432/idpbot?sslmode=disable"

// knownDrivers are the driver names a catalog may bind services to.
var knownDrivers = []string{"postgres", "kubernetes", "gitops", "webhook", "exec", "manifests"}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// userError is a problem the person running the bot can fix; it is printed
// as is, without a chain of wrapped errors.
type userError struct{ msg string }

func (e userError) Error() string { return e.msg }

func errorText(err error) string {
	var ue userError
	if errors.As(err, &ue) {
		return ue.msg
	}
	var us usageError
	if errors.As(err, &us) {
		return us.msg + "\n\n" + usageText
	}
	return "idpbot: " + err.Error()
}

func exitCode(err error) int {
	var us usageError
	if errors.As(err, &us) {
		return 2
	}
	return 1
}

// env reads the process environment through getenv.
type env func(string) string

func (g env) or(key, def string) string {
	if v := g(key); v != "" {
		return v
	}
	return def
}

type options struct {
	config  string
	user    string
	wait    time.Duration
	help    bool
	command []string
}

func parseArgs(args []string, getenv env) (options, error) {
	fset := flag.NewFlagSet(binary, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	var o options
	fset.StringVar(&o.config, "config", getenv("IDPBOT_CONFIG"), "")
	fset.StringVar(&o.user, "user", getenv("IDPBOT_CONSOLE_USER"), "")
	fset.DurationVar(&o.wait, "wait", 2*time.Minute, "")
	fset.BoolVar(&o.help, "help", false, "")
	fset.BoolVar(&o.help, "h", false, "")
	// Flags may come before or after the command.
	var rest []string
	for len(args) > 0 {
		if err := fset.Parse(args); err != nil {
			return o, usageError{err.Error()}
		}
		if fset.NArg() == 0 {
			break
		}
		rest = append(rest, fset.Arg(0))
		args = fset.Args()[1:]
	}
	o.command = rest
	if o.user == "" {
		if u, err := user.Current(); err == nil {
			o.user = u.Username
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	g := env(getenv)
	o, err := parseArgs(args, g)
	if err != nil {
		return err
	}
	if o.help || len(o.command) > 0 && o.command[0] == "help" {
		return help(o, stdout)
	}
	cmd := "serve"
	if len(o.command) > 0 {
		cmd = o.command[0]
	}
	switch cmd {
	case "version":
		if len(o.command) > 1 {
			return usageError{"version takes no arguments"}
		}
		info, ok := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(version, info, ok))
		return nil
	case "catalog":
		if len(o.command) < 2 || o.command[1] != "validate" || len(o.command) > 3 {
			return usageError{"catalog: want `catalog validate [DIR]`"}
		}
		dir := ""
		if len(o.command) == 3 {
			dir = o.command[2]
		}
		return validateCatalog(dir, stdout)
	case "policy":
		return runPolicyTest(o, stdout)
	case "migrate":
		pool, _, applied, err := connect(ctx, g, stderr)
		if err != nil {
			return err
		}
		defer pool.Close()
		if applied == 0 {
			fmt.Fprintln(stdout, "the database is up to date: no migrations to apply")
		} else {
			fmt.Fprintf(stdout, "applied %d migrations\n", applied)
		}
		return nil
	case "serve", "console":
		if len(o.command) > 1 {
			return usageError{fmt.Sprintf("%s takes no arguments", cmd)}
		}
		// With no subcommand and no chat credentials, the console opens;
		// an explicit serve (as in a container) always serves.
		if cmd == "console" || len(o.command) == 0 && !chatConfigured(g) {
			return runConsole(ctx, o, g, stdin, stdout, stderr)
		}
		return runServe(ctx, o, g, stderr)
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// help prints the usage, or the help of the command named: `idpbot help
// CMD` or `idpbot CMD --help`.
func help(o options, stdout io.Writer) error {
	name := ""
	switch {
	case len(o.command) > 0 && o.command[0] == "help" && len(o.command) > 2:
		return usageError{"help: want `help [COMMAND]`"}
	case len(o.command) > 0 && o.command[0] == "help" && len(o.command) == 2:
		name = o.command[1]
	case len(o.command) > 0 && o.command[0] != "help":
		name = o.command[0]
	case len(o.command) > 0 && o.help: // idpbot help --help
		name = "help"
	}
	if name == "" {
		fmt.Fprintln(stdout, usageText)
		return nil
	}
	s, ok := lookupSubcommand(name)
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q", name)}
	}
	fmt.Fprintln(stdout, s.helpText())
	return nil
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func validateCatalog(dir string, stdout io.Writer) error {
	var fsys fs.FS = defaultcatalog.FS
	name := "built-in catalog"
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return userError{fmt.Sprintf("catalog validate: %s is not a directory", dir)}
		}
		fsys, name = os.DirFS(dir), dir
	}
	problems := catalogload.ValidateWith(fsys, knownDrivers, map[string]catalogload.BindingCheck{"manifests": manifests.CheckCatalogBinding})
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	if len(problems) > 0 {
		return userError{fmt.Sprintf("%s: %d problem(s)", name, len(problems))}
	}
	fmt.Fprintf(stdout, "%s: ok\n", name)
	return nil
}
