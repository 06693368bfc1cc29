package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/internal/benchstat"
	"github.com/glossa-dev/glossa/internal/testpg"
)

// The benchmarks here measure the real binary over loopback, the way a
// client sees it: they build cmd/glossa, start it as a separate process on
// each engine, and read its memory from /proc. The server, its database and
// its million tasks are made once per engine and kept for the whole test
// binary, so that -count repeats measure, not seed.

// benchServer is a running glossa process with an organization, a token
// and a project of 1,000,000 tasks (a third of them labeled).
type benchServer struct {
	cmd       *exec.Cmd
	base      string
	token     string
	workspace int64
	bigProj   int64
	smallProj int64 // 1,000 tasks: the baseline for the million
	idleRSS   int64 // kB, before any request but health checks
	cleanup   []func()
}

var (
	benchMu      sync.Mutex
	benchServers = map[string]*benchServer{}
	benchBinary  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range benchServers {
		s.stop()
	}
	if benchBinary != "" {
		os.RemoveAll(filepath.Dir(benchBinary))
	}
	os.Exit(code)
}

func (s *benchServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
	}
	for _, f := range s.cleanup {
		f()
	}
}

// buildBinary builds cmd/glossa once.
func buildBinary(b *testing.B) string {
	if benchBinary != "" {
		return benchBinary
	}
	dir, err := os.MkdirTemp("", "glossa-bench-bin")
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "glossa")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	benchBinary = bin
	return bin
}

// server returns the engine's running server, starting and seeding it on
// first use.
func server(b *testing.B, engine string) *benchServer {
	benchMu.Lock()
	defer benchMu.Unlock()
	if s := benchServers[engine]; s != nil {
		return s
	}
	b.StopTimer()
	defer b.StartTimer()
	bin := buildBinary(b)
	s := &benchServer{}
	dir, err := os.MkdirTemp("", "glossa-bench-"+engine)
	if err != nil {
		b.Fatal(err)
	}
	s.cleanup = append(s.cleanup, func() { os.RemoveAll(dir) })
	db := "sqlite:" + filepath.Join(dir, "glossa.db")
	if engine == "postgres" {
		dsn, drop, err := testpg.NewDatabase()
		if err != nil {
			b.Fatal(err)
		}
		db = dsn
		s.cleanup = append(s.cleanup, drop)
	}
	env := append(os.Environ(), "GLOSSA_DB="+db, "GLOSSA_DATA_DIR="+filepath.Join(dir, "data"), "GLOSSA_LOG_LEVEL=warn")
	cli := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("glossa %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	cli("org", "create", "--name", "Bench", "--slug", "bench", "--owner-email", "owner@bench.example", "--owner-password", "bench password 1")
	s.token = cli("token", "create", "--email", "owner@bench.example", "--expires", "24h")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s.base = "http://" + addr
	s.cmd = exec.Command(bin, "serve", "--addr", addr)
	s.cmd.Env = env
	s.cmd.Stderr = io.Discard
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	benchServers[engine] = s
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(s.base + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let start-up garbage settle before reading idle memory
	s.idleRSS = procStatus(b, s.cmd.Process.Pid, "VmRSS")

	var ws struct{ ID int64 }
	s.call(b, "POST", "/api/workspaces", `{"title":"bench"}`, 201, &ws)
	s.workspace = ws.ID
	s.bigProj = s.project(b, "one million")
	s.smallProj = s.project(b, "one thousand")
	s.call(b, "POST", fmt.Sprintf("/api/projects/%d/import", s.smallProj), tasksJSON(1000, 0), 201, nil)
	for i := 0; i < 10; i++ {
		s.call(b, "POST", fmt.Sprintf("/api/projects/%d/import", s.bigProj), tasksJSON(100_000, i*100_000), 201, nil)
	}
	return s
}

// tasksJSON is an import of n tasks, every third one with an annotation.
func tasksJSON(n, offset int) []byte {
	var b bytes.Buffer
	b.Grow(n * 120)
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if (offset+i)%3 == 0 {
			fmt.Fprintf(&b, `{"data":{"text":"review number %d"},"annotations":[{"result":[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["Positive"]}}]}]}`, offset+i)
		} else {
			fmt.Fprintf(&b, `{"text":"review number %d","meta_info":{"source":"bench"}}`, offset+i)
		}
	}
	b.WriteByte(']')
	return b.Bytes()
}

func (s *benchServer) project(b *testing.B, title string) int64 {
	var p struct{ ID int64 }
	s.call(b, "POST", "/api/projects", fmt.Sprintf(`{"title":%q,"workspace":%d}`, title, s.workspace), 201, &p)
	return p.ID
}

func (s *benchServer) call(b *testing.B, method, path string, body any, want int, out any) {
	var rd io.Reader
	switch v := body.(type) {
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Token "+s.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s = %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// procStatus reads a kB field (VmRSS, VmHWM) of a process.
func procStatus(b *testing.B, pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// resetPeak resets the process's peak RSS (VmHWM), so that the next
// reading is the peak of what follows (Linux: clear_refs 5).
func resetPeak(b *testing.B, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}

var engineNames = []string{"sqlite", "postgres"}

// BenchmarkIdle reports the server's resident memory after start-up.
func BenchmarkIdle(b *testing.B) {
	for _, engine := range engineNames {
		b.Run(engine, func(b *testing.B) {
			s := server(b, engine)
			for range b.N {
			}
			b.ReportMetric(float64(s.idleRSS)/1024, "idle-RSS-MB")
		})
	}
}

// BenchmarkTaskListPage asks for the 100 newest tasks, filtered by labeled
// and by unlabeled, of the million-task project and, as the baseline, of a
// 1,000-task project, and reports client-side latency percentiles over all
// requests of the run. BenchmarkHealthz is the floor: one HTTP round trip
// with no database work.
func BenchmarkTaskListPage(b *testing.B) {
	for _, engine := range engineNames {
		for _, size := range []string{"1k", "1M"} {
			for _, labeled := range []string{"true", "false"} {
				b.Run(engine+"/tasks="+size+"/labeled="+labeled, func(b *testing.B) {
					s := server(b, engine)
					project := s.bigProj
					if size == "1k" {
						project = s.smallProj
					}
					latencies(b, s, fmt.Sprintf("/api/tasks?project=%d&ordering=-id&labeled=%s&page_size=100", project, labeled), 1000)
				})
			}
		}
	}
}

func BenchmarkHealthz(b *testing.B) {
	for _, engine := range engineNames {
		b.Run(engine, func(b *testing.B) { latencies(b, server(b, engine), "/healthz", 10) })
	}
}

// latencies requests path b.N times and reports p50 and p99 in ms; each
// answer must be 200 and at least minBytes long.
func latencies(b *testing.B, s *benchServer, path string, minBytes int64) {
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Token "+s.token)
	client := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < minBytes {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	benchstat.ReportLatency(b, lat)
}

// BenchmarkImport imports 10,000 and 100,000 tasks in one request each and
// reports the server's peak RSS during the import: it must not grow with
// the size of the request.
func BenchmarkImport(b *testing.B) {
	for _, engine := range engineNames {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/tasks=%d", engine, n), func(b *testing.B) {
				s := server(b, engine)
				body := tasksJSON(n, 0)
				b.SetBytes(int64(len(body)))
				var peak int64
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					p := s.project(b, "import")
					time.Sleep(500 * time.Millisecond) // let the previous iteration's memory go back first
					resetPeak(b, s.cmd.Process.Pid)
					b.StartTimer()
					s.call(b, "POST", fmt.Sprintf("/api/projects/%d/import", p), body, 201, nil)
					b.StopTimer()
					peak = max(peak, procStatus(b, s.cmd.Process.Pid, "VmHWM"))
					s.call(b, "DELETE", fmt.Sprintf("/api/projects/%d", p), nil, 204, nil)
					b.StartTimer()
				}
				b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
			})
		}
	}
}
