package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/benchstat"
	"github.com/glossa-dev/glossa/store"
)

// The labeling benchmarks run on BenchmarkFindTasks' seeded project (a
// million tasks, every third labeled by the owner) and leave it as they
// found it: they add people and leases, never annotations.

// benchPeople are the annotators of an engine's seeded project, created
// once per process.
var benchPeople struct {
	sync.Mutex
	users map[string][]*glossa.User
}

func seededPeople(b *testing.B, e engine, s *seededProject, n int) []*glossa.User {
	b.Helper()
	benchPeople.Lock()
	defer benchPeople.Unlock()
	if benchPeople.users == nil {
		benchPeople.users = map[string][]*glossa.User{}
	}
	us := benchPeople.users[e.name]
	for len(us) < n {
		us = append(us, MustCreateMember(b, s.db, s.orgID, fmt.Sprintf("annotator%d@bench.example", len(us)), glossa.RoleAnnotator))
	}
	benchPeople.users[e.name] = us
	return us[:n]
}

// BenchmarkNextTask measures NextTask on the million-task project and
// reports the median and 99th percentile latency of each call:
//
//   - held: the person asks again for the task they hold;
//   - handout: 100 people each hold a task; in turn, one releases theirs
//     (not timed) and asks for the next, which walks past the 99 tasks the
//     others hold (and the labeled ones between them) to the free one;
//   - concurrent: the same, with 4 people asking at once.
func BenchmarkNextTask(b *testing.B) {
	ctx := context.Background()
	const holders = 100
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := seeded(b, e)
			people := seededPeople(b, e, s, holders)
			req := func(u *glossa.User) glossa.NextTaskRequest {
				return glossa.NextTaskRequest{OrgID: s.orgID, ProjectID: s.projectID, UserID: u.ID, Lease: time.Hour}
			}
			held := make([]int64, holders)
			for i, u := range people {
				t, err := s.db.NextTask(ctx, req(u))
				if err != nil {
					b.Fatal(err)
				}
				held[i] = t.ID
			}
			b.Cleanup(func() {
				for i, u := range people {
					s.db.ReleaseTask(ctx, s.orgID, held[i], u.ID)
				}
			})
			b.Run("held", func(b *testing.B) {
				var lat []time.Duration
				for b.Loop() {
					start := time.Now()
					t, err := s.db.NextTask(ctx, req(people[0]))
					lat = append(lat, time.Since(start))
					if err != nil || t.ID != held[0] {
						b.Fatalf("NextTask = %v, %v; want the held task %d", t, err, held[0])
					}
				}
				benchstat.ReportLatency(b, lat)
			})
			b.Run("handout", func(b *testing.B) {
				var lat []time.Duration
				i := 0
				for b.Loop() {
					k := i % holders
					i++
					b.StopTimer()
					if err := s.db.ReleaseTask(ctx, s.orgID, held[k], people[k].ID); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					t, err := s.db.NextTask(ctx, req(people[k]))
					lat = append(lat, time.Since(start))
					if err != nil || t.IsLabeled {
						b.Fatalf("NextTask = %+v, %v", t, err)
					}
					held[k] = t.ID
				}
				benchstat.ReportLatency(b, lat)
			})
			b.Run("concurrent", func(b *testing.B) {
				const workers = 4
				var mu sync.Mutex
				var lat []time.Duration
				var wg sync.WaitGroup
				per := max(1, b.N/workers)
				b.ResetTimer()
				for w := range workers {
					wg.Go(func() {
						var mine []time.Duration
						for j := range per {
							k := w + workers*(j%(holders/workers))
							if err := s.db.ReleaseTask(ctx, s.orgID, held[k], people[k].ID); err != nil {
								b.Error(err)
								return
							}
							start := time.Now()
							t, err := s.db.NextTask(ctx, req(people[k]))
							mine = append(mine, time.Since(start))
							if err != nil {
								b.Error(err)
								return
							}
							held[k] = t.ID
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
				}
				wg.Wait()
				benchstat.ReportLatency(b, lat)
			})
		})
	}
}

// queryCase is one data manager query of the benchmarks; depth > 0 starts
// it that many rows deep, from a cursor got by paging there.
type queryCase struct {
	name       string
	filters    []glossa.DataManagerFilter
	order      glossa.DataManagerColumn
	descending bool
	depth      int
	wantTotal  int64
	atLeast    bool
}

// benchCursors caches the deep cursors, per engine and case.
var benchCursors struct {
	sync.Mutex
	m map[string]string
}

func deepCursor(b *testing.B, e engine, db *store.DB, q glossa.DataManagerQuery, name string, depth int) string {
	b.Helper()
	benchCursors.Lock()
	defer benchCursors.Unlock()
	key := e.name + "/" + name
	if c, ok := benchCursors.m[key]; ok {
		return c
	}
	q.Limit = 1000
	start := time.Now()
	for range depth / q.Limit {
		page, err := db.QueryTasks(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		if page.NextCursor == "" {
			b.Fatalf("%s: the query ends before %d rows", name, depth)
		}
		q.Cursor = page.NextCursor
	}
	b.Logf("%s: paged %d rows deep in %v", key, depth, time.Since(start).Round(time.Millisecond))
	if benchCursors.m == nil {
		benchCursors.m = map[string]string{}
	}
	benchCursors.m[key] = q.Cursor
	return q.Cursor
}

func runQueryCases(b *testing.B, cases func(s *seededProject) []queryCase) {
	ctx := context.Background()
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			s := seeded(b, e)
			for _, tc := range cases(s) {
				b.Run(tc.name, func(b *testing.B) {
					q := glossa.DataManagerQuery{OrgID: s.orgID, ProjectID: s.projectID, Filters: tc.filters,
						OrderBy: tc.order, Descending: tc.descending, Limit: 100}
					if tc.depth > 0 {
						q.Cursor = deepCursor(b, e, s.db, q, tc.name, tc.depth)
					}
					var lat []time.Duration
					for b.Loop() {
						start := time.Now()
						page, err := s.db.QueryTasks(ctx, q)
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						if len(page.Rows) != 100 || page.Total != tc.wantTotal || page.TotalAtLeast != tc.atLeast {
							b.Fatalf("QueryTasks: %d rows, total %d (at least: %v); want 100 of %d (%v)",
								len(page.Rows), page.Total, page.TotalAtLeast, tc.wantTotal, tc.atLeast)
						}
					}
					benchstat.ReportLatency(b, lat)
				})
			}
		})
	}
}

func jsonFilter(col glossa.DataManagerColumn, op string, v any) glossa.DataManagerFilter {
	raw, _ := json.Marshal(v)
	return glossa.DataManagerFilter{Column: col, Operator: op, Value: raw}
}

// BenchmarkQueryTasks measures pages of 100 rows of the data manager on
// the million-task project, sorted and filtered by task columns: the first
// page (which counts the total) and a page deep into the project (whose
// total comes with the cursor), and reports the median and 99th
// percentile latency.
func BenchmarkQueryTasks(b *testing.B) {
	unlabeled := []glossa.DataManagerFilter{
		jsonFilter(glossa.ColumnAnnotations, "equal", 0),
		jsonFilter(glossa.ColumnReviewState, "equal", "none"),
	}
	const n = benchTasks
	runQueryCases(b, func(s *seededProject) []queryCase {
		return []queryCase{
			{name: "id/first", descending: true, wantTotal: n},
			{name: "id/deep", descending: true, depth: n / 2, wantTotal: n},
			{name: "created_at/first", order: glossa.ColumnCreatedAt, descending: true, wantTotal: n},
			// Every seeded task has the same created_at: a deep page sits in
			// one run of equal values, where only the ID positions the scan.
			{name: "created_at/deep", order: glossa.ColumnCreatedAt, descending: true, depth: n / 2, wantTotal: n},
			{name: "unlabeled-unreviewed/first", filters: unlabeled, order: glossa.ColumnUpdatedAt, descending: true,
				wantTotal: glossa.DataManagerCountLimit, atLeast: true},
			{name: "unlabeled-unreviewed/deep", filters: unlabeled, order: glossa.ColumnUpdatedAt, descending: true, depth: n / 3,
				wantTotal: glossa.DataManagerCountLimit, atLeast: true},
			{name: "total_annotations-desc/deep", order: glossa.ColumnAnnotations, descending: true, depth: n / 2, wantTotal: n},
			{name: "annotated-by/first", filters: []glossa.DataManagerFilter{jsonFilter(glossa.ColumnAnnotators, "in", []int64{s.owner})},
				wantTotal: glossa.DataManagerCountLimit, atLeast: true},
			{name: "id-range/deep", filters: []glossa.DataManagerFilter{jsonFilter(glossa.ColumnID, "in", map[string]int64{"min": 1, "max": 2 * n})},
				depth: n / 2, wantTotal: glossa.DataManagerCountLimit, atLeast: true},
		}
	})
}

// BenchmarkQueryTasksData measures data.<key> filters and sorts on the
// million-task project, which read every task's JSON (see store's
// datamanager.go): a filter that matches often (the page fills early; the
// count stops at its limit), and a sort (a top-N sort over every task).
// Run it with a small -benchtime.
func BenchmarkQueryTasksData(b *testing.B) {
	runQueryCases(b, func(*seededProject) []queryCase {
		return []queryCase{
			{name: "contains/first", filters: []glossa.DataManagerFilter{jsonFilter("data.text", "contains", "task 9")},
				descending: true, wantTotal: glossa.DataManagerCountLimit, atLeast: true},
			{name: "contains/deep", filters: []glossa.DataManagerFilter{jsonFilter("data.text", "contains", "task 9")},
				descending: true, depth: 50_000, wantTotal: glossa.DataManagerCountLimit, atLeast: true},
			{name: "sort/first", order: "data.text", wantTotal: benchTasks},
		}
	})
}
