package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/internal/testpg"
)

// lockedBuffer is a bytes.Buffer safe for a server goroutine to write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCLI runs the command line in-process, as main would, with an empty
// environment plus env.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// engines gives each test a fresh database on both engines.
func engines(t *testing.T) map[string]map[string]string {
	dir := t.TempDir()
	return map[string]map[string]string{
		"sqlite":   {"GLOSSA_DB": "sqlite:" + filepath.Join(dir, "g.db"), "GLOSSA_DATA_DIR": filepath.Join(dir, "data")},
		"postgres": {"GLOSSA_DB": testpg.DSN(t), "GLOSSA_DATA_DIR": filepath.Join(dir, "pgdata")},
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "glossa ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestAdminCommands(t *testing.T) {
	for name, env := range engines(t) {
		t.Run(name, func(t *testing.T) {
			out, _, err := runCLI(t, env, "org", "create", "--name", "Acme Labs", "--slug", "acme", "--owner-email", "Owner@Acme.example", "--owner-password", "correct horse battery")
			if err != nil {
				t.Fatalf("org create: %v", err)
			}
			var org struct {
				OrgID  int64  `json:"org_id"`
				Slug   string `json:"slug"`
				UserID int64  `json:"user_id"`
			}
			if err := json.Unmarshal([]byte(out), &org); err != nil || org.OrgID == 0 || org.UserID == 0 || org.Slug != "acme" {
				t.Fatalf("org create printed %q (%v)", out, err)
			}

			// The same slug again is refused with the store's safe message.
			_, _, err = runCLI(t, env, "org", "create", "--name", "Other", "--slug", "acme", "--owner-email", "x@other.example", "--owner-password", "correct horse battery")
			if err == nil || !strings.Contains(err.Error(), "acme") || strings.Contains(strings.ToLower(err.Error()), "constraint") {
				t.Fatalf("duplicate slug: err = %v", err)
			}

			pwFile := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pwFile, []byte("annotator secret 1\n"), 0o600)
			out, _, err = runCLI(t, env, "user", "create", "--org", "acme", "--email", "ann@acme.example", "--role", "Annotator", "--password-file", pwFile)
			if err != nil || !strings.Contains(out, `"role":"Annotator"`) {
				t.Fatalf("user create = %q, %v", out, err)
			}
			_, _, err = runCLI(t, env, "user", "create", "--org", "acme", "--email", "boss@acme.example", "--role", "Owner")
			if err == nil || !strings.Contains(err.Error(), "exactly one Owner") {
				t.Fatalf("second Owner: err = %v", err)
			}

			out, _, err = runCLI(t, env, "token", "create", "--email", "owner@acme.example", "--name", "ci", "--expires", "1h")
			token := strings.TrimSpace(out)
			if err != nil || !strings.HasPrefix(token, "glo_") {
				t.Fatalf("token create = %q, %v", out, err)
			}
			_, _, err = runCLI(t, env, "token", "create", "--email", "nobody@acme.example")
			if err == nil {
				t.Fatal("token for an unknown email was created")
			}

			out, _, err = runCLI(t, env, "migrate")
			if err != nil || !strings.Contains(out, "migrations applied") {
				t.Fatalf("migrate = %q, %v", out, err)
			}
		})
	}
}

// TestBadConfigReportsEveryProblem: one line per problem, all at once.
func TestBadConfigReportsEveryProblem(t *testing.T) {
	_, _, err := runCLI(t, map[string]string{"GLOSSA_DB": "mysql://x"}, "org", "create", "--slug", "A!", "--owner-email", "nope", "--owner-password", "short")
	if err == nil {
		t.Fatal("bad flags were accepted")
	}
	for _, want := range []string{"--db", "--name", "--slug", "--owner-email", "--owner-password"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("got %d lines, want 5:\n%v", n, err)
	}

	_, _, err = runCLI(t, nil, "serve", "--addr", "nohost", "--base-url", "ftp://x/y", "--db", "sqlite:")
	if err == nil || !strings.Contains(err.Error(), "--addr") || !strings.Contains(err.Error(), "--base-url") || !strings.Contains(err.Error(), "--db") {
		t.Fatalf("serve with bad flags: %v", err)
	}
	if _, _, err := runCLI(t, nil, "serve", "--no-such-flag"); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if _, _, err := runCLI(t, nil, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("unknown command: %v", err)
	}
}

// TestUnreachableDatabase fails with a clear error, not a hang.
func TestUnreachableDatabase(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err := runCLI(t, map[string]string{"GLOSSA_DB": "postgres://u:secretpw@" + addr + "/db?connect_timeout=2"}, "migrate")
	if err == nil {
		t.Fatal("migrate against a closed port succeeded")
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("the error shows the database password: %v", err)
	}
}

// TestServeFirstRunAndShutdown starts the real server: it prints the
// one-time setup link on an empty database, answers health checks, and
// returns cleanly when its context is cancelled (SIGTERM).
func TestServeFirstRunAndShutdown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	env := map[string]string{"GLOSSA_DB": "sqlite:" + filepath.Join(dir, "g.db"), "GLOSSA_DATA_DIR": filepath.Join(dir, "data"), "GLOSSA_ADDR": addr}
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, strings.NewReader(""), &out, &logs)
	}()

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "ok") {
				t.Fatalf("readyz = %d %s", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\nlogs:\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), base+"/setup?token=") {
		t.Fatalf("no setup link printed; stdout:\n%s", out.String())
	}
	st, err := os.Stat(filepath.Join(dir, "data", "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key: %v, mode %v", err, st.Mode())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "glossa_http_requests_total") || !strings.Contains(string(metrics), "go_goroutines") {
		t.Fatalf("metrics lack our series:\n%.500s", metrics)
	}
	// Logs are JSON lines (stderr is not a terminal here) with request IDs.
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("log line is not JSON: %q", l)
			}
			break
		}
	}
	if line["request_id"] == nil || line["path"] == nil {
		t.Fatalf("request log line lacks request_id or path: %v\nlogs:\n%s", line, logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("serve did not shut down")
	}
}
