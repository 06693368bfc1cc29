// Command glossa runs the Glossa data-labeling server and its admin
// commands: serve (the default), migrate, org create, user create, token
// create and version. main only wires signals and exit codes; run does the
// work, with its environment passed in, so tests can drive it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "glossa:", err)
		}
		os.Exit(1)
	}
}

// run dispatches to a command. With no command, or only flags, it serves.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	sub := func() (string, []string) {
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			return "", rest
		}
		return rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "glossa", version)
		return nil
	case "org":
		if s, r := sub(); s == "create" {
			return orgCreate(ctx, r, getenv, stdout, stderr)
		}
		return errors.New("usage: glossa org create --name N --slug S --owner-email E (--owner-password P | --owner-password-file F)")
	case "user":
		if s, r := sub(); s == "create" {
			return userCreate(ctx, r, getenv, stdout, stderr)
		}
		return errors.New("usage: glossa user create --org S --email E --role R [--password P]")
	case "token":
		if s, r := sub(); s == "create" {
			return tokenCreate(ctx, r, getenv, stdout, stderr)
		}
		return errors.New("usage: glossa token create --email E [--org S] [--name N] [--expires 720h]")
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q; run \"glossa help\"", cmd)
}

const usage = `Glossa: data labeling governed by your identity provider.

Commands:
  glossa [serve]     run the server (--addr, --db, --base-url, --data-dir)
  glossa migrate     apply database migrations and exit
  glossa org create  --name N --slug S --owner-email E --owner-password P
  glossa user create --org S --email E --role R [--password P]
  glossa token create --email E [--org S] [--name N] [--expires 720h]
  glossa version     print the version

Every flag also reads an environment variable: GLOSSA_ADDR, GLOSSA_DB,
GLOSSA_BASE_URL, GLOSSA_DATA_DIR. See README.md.
`
