// Package app wires Captune together: the command line (captune --help), the headless subcommands,
// and the desktop window. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/captune/captune/internal/torchx"
)

// Version is the Captune release, set at link time by the Makefile (-X) and mirrored in FyneApp.toml.
var Version = "0.1.0"

// Command is one headless subcommand of the captune binary.
type Command struct {
	Name    string
	Summary string // one line for captune --help
	Usage   string // argument synopsis after the name, e.g. "[flags] PATH..."
	// Run executes the command. fs is a fresh FlagSet named after the command; Run defines its flags,
	// parses args with it and returns an error for the user (printed as one line, exit code 1), or an
	// *ExitError to choose the exit code.
	Run func(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error
}

// Env is what a command may touch besides its arguments.
type Env struct {
	Stdout, Stderr io.Writer
	Threads        int // libtorch intra-op threads chosen by --threads (0: left at libtorch's default)
	// Sample opens the window on the user's working copy of the bundled sample dataset (--sample),
	// never on the copy inside the binary or the repository.
	Sample bool
}

// ExitError ends the program with Code after printing Err (if any).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

var commands = map[string]*Command{}

// register adds a subcommand; each lives in its own cmd_*.go file.
func register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("app: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `Captune %s: build image-caption datasets and fine-tune BLIP on them.

Usage:
  captune [--threads N] [FOLDER]            open the main window (on FOLDER, or the last one / the sample)
  captune [--threads N] --sample            open the main window on your copy of the bundled sample
  captune [--threads N] COMMAND [flags]     run headless

Commands:
`, Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintf(w, `
Global flags:
  --threads N   libtorch intra-op threads (default: the number of physical cores)
  --sample      open the window on a working copy of the bundled sample dataset, made on first use
                in the user's data folder (the copy inside the program is never written)
  --version     print the version and exit
  --help        this text; "captune COMMAND --help" describes a command
`)
}

// Main runs the program with the arguments after the program name and returns the exit code.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
	// Global flags come before the command name.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			usage(stdout)
			return 0
		case a == "--version" || a == "-version":
			fmt.Fprintf(stdout, "captune %s (libtorch %s, %s/%s)\n", Version, torchx.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		case a == "--sample" || a == "-sample":
			env.Sample = true
			args = args[1:]
		case a == "--threads" || a == "-threads" || strings.HasPrefix(a, "--threads=") || strings.HasPrefix(a, "-threads="):
			v, rest, err := flagValue(args)
			if err != nil {
				fmt.Fprintf(stderr, "captune: %v\n", err)
				return 2
			}
			var n int
			if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 {
				fmt.Fprintf(stderr, "captune: --threads %q: want a positive integer\n", v)
				return 2
			}
			env.Threads = n
			args = rest
		default:
			fmt.Fprintf(stderr, "captune: unknown flag %s (see captune --help)\n", a)
			return 2
		}
	}
	if env.Threads == 0 {
		env.Threads = PhysicalCores()
	}
	torchx.SetNumThreads(env.Threads)

	if env.Sample && len(args) > 0 {
		fmt.Fprintf(stderr, "captune: --sample opens the window on the sample; it takes no folder or command\n")
		return 2
	}
	if len(args) == 0 || commands[args[0]] == nil && isPath(args[0]) {
		return runGUI(env, args)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "captune: unknown command %q (see captune --help)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("captune "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: captune %s %s\n\n%s\n\nFlags:\n", cmd.Name, cmd.Usage, cmd.Summary)
		fs.PrintDefaults()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.Run(ctx, env, fs, args[1:])
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "captune %s: %v\n", cmd.Name, ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "captune %s: %v\n", cmd.Name, err)
	return 1
}

// flagValue splits "--name=v" or "--name v" off the front of args.
func flagValue(args []string) (value string, rest []string, err error) {
	if i := strings.IndexByte(args[0], '='); i >= 0 {
		return args[0][i+1:], args[1:], nil
	}
	if len(args) < 2 {
		return "", nil, fmt.Errorf("flag %s needs a value", args[0])
	}
	return args[1], args[2:], nil
}

func isPath(s string) bool {
	_, err := os.Stat(s)
	return err == nil
}
