package s3_test

// BenchmarkSync200k: a source sync of a 200,000-object bucket on a real S3
// (SeaweedFS, internal/s3test) into the real store, on both engines, as the
// worker runs it: a claimed job, a static-key storage (its secret sealed
// and opened by the federation broker, as cmd/glossa wires it), blob URLs.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/connector/s3"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/internal/s3test"
	"github.com/glossa-dev/glossa/internal/testpg"
	"github.com/glossa-dev/glossa/secret"
	"github.com/glossa-dev/glossa/store"
)

// benchObjects is the size of the bucket BenchmarkSync200k syncs.
const benchObjects = 200_000

// benchRig is the SeaweedFS of the benchmarks: one bucket, no roles (the
// storage uses the admin's static keys). A Config of its own gives it a
// server of its own, apart from the tests' shared one.
var benchRig = s3test.Config{Buckets: []string{"bench-200k"}}

// benchKey is the key of object i: 100 folders of 2,000 images.
func benchKey(i int) string {
	return fmt.Sprintf("images/%03d/%06d.jpg", i/2000, i)
}

// benchBucket fills the bucket once per test binary, however many times
// -count runs the benchmark; a failure is kept, so later runs fail at once.
var benchBucket struct {
	sync.Mutex
	srv *s3test.Server
	err error
}

// filledBucket returns the server whose bucket holds benchObjects objects,
// uploading them on first use, 64 at a time (a 200,000-object upload is
// SeaweedFS's work, not Glossa's, and is never timed).
func filledBucket(b *testing.B) *s3test.Server {
	b.Helper()
	srv := s3test.Shared(b, benchRig)
	benchBucket.Lock()
	defer benchBucket.Unlock()
	if benchBucket.srv == nil && benchBucket.err == nil {
		start := time.Now()
		benchBucket.err = upload(srv, benchRig.Buckets[0], benchObjects, 64)
		benchBucket.srv = srv
		b.Logf("uploaded %d objects to SeaweedFS in %v", benchObjects, time.Since(start).Round(time.Second))
	}
	if benchBucket.err != nil {
		b.Fatalf("filling the bucket: %v", benchBucket.err)
	}
	return benchBucket.srv
}

// upload puts n small objects (benchKey(0..n-1)) into bucket, workers at a
// time, through one client whose pool keeps a connection per worker.
func upload(srv *s3test.Server, bucket string, n, workers int) error {
	client := awss3.New(awss3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AdminKey, srv.AdminSecret, ""),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = workers
		}),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	body := []byte("not really a JPEG")
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				var err error
				for try := 0; try < 3; try++ {
					_, err = client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(benchKey(i)),
						Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
					if err == nil {
						break
					}
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("put %s: %w", benchKey(i), err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// benchEngines open a new database for one benchmark run, removed when it
// ends.
var benchEngines = []struct {
	name string
	dsn  func(b *testing.B) string
}{
	{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "glossa.db") }},
	{"postgres", func(b *testing.B) string { return testpg.DSN(b) }},
}

// BenchmarkSync200k syncs a 200,000-object bucket (blob URLs, recursive
// scan) into a fresh project, then syncs it again unchanged, through
// Connector.RunSync with a claimed job and the real store on each engine;
// the bucket is filled once per test binary, before any timer runs.
//
// It reports objects/s and the seconds of the first sync, the seconds of
// the re-sync and its ratio to the first (resync-ratio), and the sync's
// memory: peak-rss-MB is the whole test process's peak resident set
// (VmHWM, reset before each sync; it includes SQLite's page cache, not
// PostgreSQL's or SeaweedFS's, which are other processes), rss-growth-MB
// that peak less the resident set just before the sync, and
// peak-heap-MB the Go heap's peak growth (sampled every 5 ms). The list
// sub-benchmark is the baseline: the same listing of the bucket with the
// same SDK and nothing else, SeaweedFS's share of a sync.
func BenchmarkSync200k(b *testing.B) {
	srv := filledBucket(b)
	bucket := benchRig.Buckets[0]
	ctx := context.Background()

	b.Run("list", func(b *testing.B) {
		client := srv.S3Client(srv.AdminCredentials())
		var total time.Duration
		n := 0
		for b.Loop() {
			start := time.Now()
			keys := 0
			pages := awss3.NewListObjectsV2Paginator(client, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				keys += len(page.Contents)
			}
			total += time.Since(start)
			n++
			if keys != benchObjects {
				b.Fatalf("listed %d keys, want %d", keys, benchObjects)
			}
		}
		b.ReportMetric(float64(benchObjects*n)/total.Seconds(), "objects/s")
	})

	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			db, err := store.Open(ctx, e.dsn(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			org := &glossa.Organization{Title: "Bench", Slug: "bench"}
			owner := &glossa.User{Email: "owner@bench.example", FirstName: "O", LastName: "Owner", PasswordHash: "$argon2id$x"}
			if err := db.CreateOrganization(ctx, org, owner); err != nil {
				b.Fatal(err)
			}
			key := make([]byte, secret.KeySize)
			rand.Read(key)
			sealer, err := secret.New(key)
			if err != nil {
				b.Fatal(err)
			}
			broker := &federation.Broker{Store: db, Sealer: sealer}
			c := &s3.Connector{Creds: broker, Store: db}

			// runJob runs one job of storage st and returns its progress
			// and how long RunSync took.
			runJob := func(st *glossa.Storage) (glossa.StorageJob, time.Duration) {
				job := &glossa.StorageJob{OrgID: org.ID, StorageID: st.ID, RequestedBy: owner.ID}
				if err := db.CreateStorageJob(ctx, job); err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				claimed, err := db.ClaimStorageJob(ctx, now, now.Add(-s3.StaleAfter))
				if err != nil || claimed == nil || claimed.ID != job.ID {
					b.Fatalf("ClaimStorageJob = %+v, %v; want job %d", claimed, err, job.ID)
				}
				start := time.Now()
				if err := c.RunSync(ctx, claimed); err != nil {
					b.Fatal(err)
				}
				elapsed := time.Since(start)
				done, err := db.FindStorageJob(ctx, org.ID, job.ID)
				if err != nil {
					b.Fatal(err)
				}
				if done.Status != glossa.SyncCompleted {
					b.Fatalf("job %s: %s", done.Status, done.Error)
				}
				return *done, elapsed
			}

			var first, again time.Duration
			var peak memPeak
			i := 0
			for b.Loop() {
				i++
				p := &glossa.Project{OrgID: org.ID, Title: fmt.Sprint("Sync ", i), LabelConfig: `<View><Image name="image" value="$image"/></View>`}
				if err := db.CreateProject(ctx, p); err != nil {
					b.Fatal(err)
				}
				st := &glossa.Storage{OrgID: org.ID, ProjectID: p.ID, Type: glossa.StorageSource, Bucket: bucket,
					UseBlobURLs: true, RecursiveScan: true, AuthMode: glossa.AuthStatic, AccessKeyID: srv.AdminKey,
					S3Endpoint: srv.Endpoint, RegionName: srv.Region}
				if err := broker.SealStaticSecret(st, srv.AdminSecret, ""); err != nil {
					b.Fatal(err)
				}
				if err := db.CreateStorage(ctx, st); err != nil {
					b.Fatal(err)
				}

				m := startMemProbe()
				job, d := runJob(st)
				peak.max(m.stop())
				if job.Listed != benchObjects || job.Created != benchObjects || job.Skipped != 0 || job.Failed != 0 {
					b.Fatalf("first sync: %+v; want %d listed and created", job, benchObjects)
				}
				first += d

				m = startMemProbe()
				job, d = runJob(st)
				peak.max(m.stop())
				if job.Listed != benchObjects || job.Created != 0 || job.Skipped != benchObjects {
					b.Fatalf("re-sync: %+v; want %d listed and skipped, none created", job, benchObjects)
				}
				again += d

				got, err := db.FindProjectByID(ctx, org.ID, p.ID)
				if err != nil {
					b.Fatal(err)
				}
				if got.TaskCount != benchObjects {
					b.Fatalf("project has %d tasks, want %d", got.TaskCount, benchObjects)
				}
			}
			b.ReportMetric(float64(benchObjects*i)/first.Seconds(), "objects/s")
			b.ReportMetric(first.Seconds()/float64(i), "sync-s")
			b.ReportMetric(again.Seconds()/float64(i), "resync-s")
			b.ReportMetric(again.Seconds()/first.Seconds(), "resync-ratio")
			if peak.rss > 0 {
				b.ReportMetric(float64(peak.rss)/(1<<20), "peak-rss-MB")
				b.ReportMetric(float64(peak.rssGrowth)/(1<<20), "rss-growth-MB")
			}
			b.ReportMetric(float64(peak.heapGrowth)/(1<<20), "peak-heap-MB")
		})
	}
}

// memPeak is what a memory probe saw: the process's peak resident set
// (0 where /proc cannot tell), its growth over the resident set at the
// start, and the Go heap's peak growth.
type memPeak struct {
	rss, rssGrowth, heapGrowth uint64
}

func (p *memPeak) max(q memPeak) {
	p.rss, p.rssGrowth, p.heapGrowth = max(p.rss, q.rss), max(p.rssGrowth, q.rssGrowth), max(p.heapGrowth, q.heapGrowth)
}

// memProbe measures memory from its start to its stop.
type memProbe struct {
	baseRSS, baseHeap uint64
	hwmReset          bool
	topHeap           atomic.Uint64
	done              chan struct{}
	wg                sync.WaitGroup
}

// startMemProbe collects garbage and returns freed memory to the system,
// so that the baseline is what the process holds, resets the kernel's
// peak resident set (Linux's clear_refs "5"), and samples the heap.
func startMemProbe() *memProbe {
	runtime.GC()
	debug.FreeOSMemory()
	m := &memProbe{done: make(chan struct{})}
	m.baseRSS = procStatus("VmRSS")
	m.hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	m.baseHeap = heapObjectBytes()
	m.topHeap.Store(m.baseHeap)
	m.wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				if h := heapObjectBytes(); h > m.topHeap.Load() {
					m.topHeap.Store(h)
				}
			}
		}
	})
	return m
}

func (m *memProbe) stop() memPeak {
	close(m.done)
	m.wg.Wait()
	var p memPeak
	if top := m.topHeap.Load(); top > m.baseHeap {
		p.heapGrowth = top - m.baseHeap
	}
	if m.hwmReset {
		p.rss = procStatus("VmHWM")
		if p.rss > m.baseRSS {
			p.rssGrowth = p.rss - m.baseRSS
		}
	}
	return p
}

// heapObjectBytes is the memory held by heap objects now, live or not yet
// swept.
func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// procStatus reads a "kB" field of /proc/self/status in bytes; 0 if there
// is none.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
