package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/benchstat"
	"github.com/glossa-dev/glossa/store"
)

// TestMain removes what the benchmarks keep for the whole run (the seeded
// SQLite file, the seeded PostgreSQL database).
func TestMain(m *testing.M) {
	code := m.Run()
	benchShared.cleanup()
	os.Exit(code)
}

// benchTasks is the size of the project BenchmarkFindTasks pages through.
const benchTasks = 1_000_000

// seededProject is a project of benchTasks tasks, a third of them labeled.
type seededProject struct {
	db                      *store.DB
	orgID, projectID, owner int64
}

// benchState seeds each engine's big project once per process, however
// many times -count runs the benchmarks, and cleans up at exit.
type benchState struct {
	mu     sync.Mutex // guards seeded, held while seeding
	seeded map[string]*seededProject

	cleanupMu sync.Mutex
	cleanups  []func()
}

var benchShared benchState

func (s *benchState) atExit(f func()) {
	s.cleanupMu.Lock()
	defer s.cleanupMu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *benchState) cleanup() {
	s.cleanupMu.Lock()
	defer s.cleanupMu.Unlock()
	for _, f := range slices.Backward(s.cleanups) {
		f()
	}
	s.cleanups = nil
}

// processDSN is engine.dsn for a database that lives until the process
// ends, not until the benchmark function returns (which -count and b.N
// rounds do many times).
func processDSN(b *testing.B, e engine) string {
	b.Helper()
	switch e.name {
	case "sqlite":
		dir, err := os.MkdirTemp("", "glossa-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchShared.atExit(func() { os.RemoveAll(dir) })
		return "sqlite:" + filepath.Join(dir, "bench.db")
	}
	base := os.Getenv("GLOSSA_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "" {
			b.Fatal("GLOSSA_TEST_POSTGRES is not set: run the benchmarks with make bench")
		}
		b.Skip("no PostgreSQL: run make bench to start one")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	r := make([]byte, 8)
	rand.Read(r)
	name := "glossa_bench_" + hex.EncodeToString(r)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		b.Fatal(err)
	}
	benchShared.atExit(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// openForProcess opens and migrates a database that stays open until exit.
func openForProcess(b *testing.B, e engine) *store.DB {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, processDSN(b, e))
	if err != nil {
		b.Fatal(err)
	}
	benchShared.atExit(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return db
}

// seeded returns the engine's big project, seeding it on first use.
func seeded(b *testing.B, e engine) *seededProject {
	b.Helper()
	benchShared.mu.Lock()
	defer benchShared.mu.Unlock()
	if s := benchShared.seeded[e.name]; s != nil {
		return s
	}
	db := openForProcess(b, e)
	t := MustCreateOrg(b, db, "bench")
	p := MustCreateProject(b, db, t.org.ID, 0, "A million tasks")
	start := time.Now()
	if err := store.SeedTasks(context.Background(), db, t.org.ID, p.ID, t.owner.ID, benchTasks); err != nil {
		b.Fatalf("seeding %d tasks: %v", benchTasks, err)
	}
	b.Logf("%s: seeded %d tasks in %v", e.name, benchTasks, time.Since(start).Round(time.Millisecond))
	s := &seededProject{db: db, orgID: t.org.ID, projectID: p.ID, owner: t.owner.ID}
	if benchShared.seeded == nil {
		benchShared.seeded = map[string]*seededProject{}
	}
	benchShared.seeded[e.name] = s
	return s
}

// BenchmarkFindTasks measures one page of the 100 newest tasks of a
// million-task project, filtered labeled and unlabeled, as the task list
// asks for it, and reports the median and 99th percentile latency.
func BenchmarkFindTasks(b *testing.B) {
	ctx := context.Background()
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := seeded(b, e)
			for _, tc := range []struct {
				name    string
				labeled bool
				total   int64
			}{
				{"labeled", true, benchTasks / 3},
				{"unlabeled", false, benchTasks - benchTasks/3},
			} {
				b.Run(tc.name, func(b *testing.B) {
					f := glossa.TaskFilter{OrgID: s.orgID, ProjectID: s.projectID, Labeled: &tc.labeled, Limit: 100}
					var lat []time.Duration
					for b.Loop() {
						start := time.Now()
						tasks, total, err := s.db.FindTasks(ctx, f)
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						if len(tasks) != 100 || total != tc.total || tasks[0].IsLabeled != tc.labeled {
							b.Fatalf("FindTasks: %d tasks, total %d; want 100 of %d", len(tasks), total, tc.total)
						}
					}
					benchstat.ReportLatency(b, lat)
				})
			}
		})
	}
}

// BenchmarkImportTasks100k imports 100,000 small tasks in one ImportTasks
// call and reports the seconds it takes and how far the heap grew above
// where it started (sampled as the tasks are read), which must not depend
// on the number of tasks.
func BenchmarkImportTasks100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db := openForProcess(b, e)
			t := MustCreateOrg(b, db, "bench")
			var peak uint64
			var elapsed time.Duration
			i := 0
			for b.Loop() {
				i++
				p := MustCreateProject(b, db, t.org.ID, 0, fmt.Sprint("import ", i))
				runtime.GC()
				base := heapBytes()
				var top uint64
				seq := generatedTasks(n, func(i int) {
					if i%1000 == 0 {
						top = max(top, heapBytes())
					}
				})
				start := time.Now()
				res, err := db.ImportTasks(ctx, t.org.ID, p.ID, t.owner.ID, seq, false)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if res.TaskCount != n {
					b.Fatalf("imported %d tasks, want %d", res.TaskCount, n)
				}
				if top > base {
					peak = max(peak, top-base)
				}
			}
			b.ReportMetric(elapsed.Seconds()/float64(i), "s/import")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// heapBytes is the memory held by heap objects now, live or not yet swept.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// generatedTasks yields n small tasks, as a streaming decoder would: one
// reused buffer and TaskImport, so only the store can make memory grow.
// probe is called before each task.
func generatedTasks(n int, probe func(i int)) iter.Seq2[*glossa.TaskImport, error] {
	return func(yield func(*glossa.TaskImport, error) bool) {
		var buf []byte
		var t glossa.TaskImport
		for i := range n {
			probe(i)
			buf = append(buf[:0], `{"text":"Task number `...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ` of the benchmark import, with some words to label.","n":`...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, '}')
			t.Data = buf
			if !yield(&t, nil) {
				return
			}
		}
	}
}

// TestImportMemoryBounded checks ImportTasks' promise that memory does not
// grow with the number of tasks: the live heap after 60,000 tasks is no
// bigger than after 20,000, give or take a few batches. (Keeping what the
// 40,000 tasks in between carry would be well over 4 MB.)
func TestImportMemoryBounded(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			f := newFixture(t, e)
			a := MustCreateOrg(t, f.db, "a")
			p := MustCreateProject(t, f.db, a.org.ID, 0, "P")
			const n = 60_000
			var at20k, at60k runtime.MemStats
			seq := generatedTasks(n, func(i int) {
				switch i {
				case 20_000:
					runtime.GC()
					runtime.ReadMemStats(&at20k)
				case n - 1:
					runtime.GC()
					runtime.ReadMemStats(&at60k)
				}
			})
			res, err := f.db.ImportTasks(context.Background(), a.org.ID, p.ID, a.owner.ID, seq, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.TaskCount != n {
				t.Fatalf("imported %d tasks, want %d", res.TaskCount, n)
			}
			growth := int64(at60k.HeapAlloc) - int64(at20k.HeapAlloc)
			t.Logf("live heap after 20k tasks %d KB, after 60k %d KB", at20k.HeapAlloc>>10, at60k.HeapAlloc>>10)
			if growth > 4<<20 {
				t.Errorf("the live heap grew by %d KB over 40,000 tasks, want it flat", growth>>10)
			}
		})
	}
}

// BenchmarkAddStorageObjects stores the tasks of a 200,000-object bucket
// in batches of 1,000 objects, as a source sync does, then adds the same
// objects again (a re-sync of an unchanged bucket, which must create
// nothing), and reports objects per second of each.
func BenchmarkAddStorageObjects(b *testing.B) {
	const n, batch = 200_000, 1000
	ctx := context.Background()
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db := openForProcess(b, e)
			t := MustCreateOrg(b, db, "bench")
			var first, again time.Duration
			i := 0
			for b.Loop() {
				i++
				p := MustCreateProject(b, db, t.org.ID, 0, fmt.Sprint("sync ", i))
				s := &glossa.Storage{OrgID: t.org.ID, ProjectID: p.ID, Type: glossa.StorageSource, Bucket: "b", AuthMode: glossa.AuthStatic}
				if err := db.CreateStorage(ctx, s); err != nil {
					b.Fatal(err)
				}
				objs := make([]glossa.StorageObject, batch)
				run := func(wantCreated int64) time.Duration {
					start := time.Now()
					for off := 0; off < n; off += batch {
						for j := range objs {
							key := fmt.Sprintf("images/%03d/%08d.jpg", (off+j)/2000, off+j)
							objs[j] = glossa.StorageObject{Key: key, Folder: key[:11],
								Tasks: []json.RawMessage{json.RawMessage(`{"data":{"image":"s3://b/` + key + `"}}`)}}
						}
						created, _, err := db.AddStorageObjects(ctx, s, objs)
						if err != nil {
							b.Fatal(err)
						}
						if created != wantCreated*int64(batch) {
							b.Fatalf("created %d tasks in a batch, want %d", created, wantCreated*batch)
						}
					}
					return time.Since(start)
				}
				first += run(1)
				again += run(0)
			}
			b.ReportMetric(float64(n*i)/first.Seconds(), "objects/s")
			b.ReportMetric(float64(n*i)/again.Seconds(), "resync-objects/s")
		})
	}
}
