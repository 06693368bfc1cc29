package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/internal/benchstat"
)

// BenchmarkLabelPage measures the labeling page of one task as the server
// answers it (issue 5: under 20 ms at p99): GET /projects/{id}/label/{task}
// through the whole handler chain, session cookie and CSRF-free GET
// included, without the network. The project has 2,000 tasks of about a
// kilobyte of text each, Label Studio's NER labels with a choice and a
// rating; the task has a prediction, two annotations and a review, and the
// page is asked for by a reviewer, who sees them all: the most a page reads.
// p50-ms and p99-ms are over the iterations of a run.
//
//	go test -run '^$' -bench BenchmarkLabelPage ./web/
func BenchmarkLabelPage(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			ts := MustServer(b, engine)
			org, owner := ts.MustOrg(b, "acme")
			manager := ts.MustMember(b, org.ID, "manager@acme.example", glossa.RoleManager)
			annotator := ts.MustMember(b, org.ID, "annotator@acme.example", glossa.RoleAnnotator)
			reviewer := ts.MustMember(b, org.ID, "reviewer@acme.example", glossa.RoleReviewer)
			as := ts.As(b, owner)
			var ws glossa.Workspace
			as.Must(b, 201, "POST", "/api/workspaces", map[string]any{"title": "Main"}, &ws)
			for _, m := range []*glossa.Member{manager, annotator, reviewer} {
				as.Must(b, 201, "POST", fmt.Sprintf("/api/workspaces/%d/memberships", ws.ID), map[string]any{"user": m.ID}, nil)
			}
			var pr glossa.Project
			as.Must(b, 201, "POST", "/api/projects", map[string]any{"title": "NER", "workspace": ws.ID, "label_config": nerConfig}, &pr)
			sentence := strings.Repeat("Ada Lovelace wrote the first program for Babbage's engine. ", 17)
			var tasks strings.Builder
			tasks.WriteString("[")
			for i := range 2000 {
				if i > 0 {
					tasks.WriteString(",")
				}
				fmt.Fprintf(&tasks, `{"data": {"text": %q}, "predictions": [{"model_version": "ner-1", "score": 0.8, "result": [{"id": "p%d", "from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 12, "text": "Ada Lovelace", "labels": ["PER"]}}]}]}`, fmt.Sprintf("%d. %s", i, sentence), i)
			}
			tasks.WriteString("]")
			var imp struct {
				TaskIDs []int64 `json:"task_ids"`
			}
			as.Must(b, 201, "POST", fmt.Sprintf("/api/projects/%d/import?return_task_ids=true", pr.ID), tasks.String(), &imp)
			task := imp.TaskIDs[len(imp.TaskIDs)/2]
			span := []map[string]any{{"id": "s1", "from_name": "label", "to_name": "text", "type": "labels",
				"value": map[string]any{"start": 6, "end": 18, "text": "Ada Lovelace", "labels": []string{"PER"}}}}
			var a glossa.Annotation
			ts.As(b, annotator).Must(b, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", task), map[string]any{"result": span}, &a)
			ts.As(b, manager).Must(b, 201, "POST", fmt.Sprintf("/api/tasks/%d/annotations", task), map[string]any{"result": span}, nil)
			ts.As(b, reviewer).Must(b, 201, "POST", fmt.Sprintf("/api/annotations/%d/reviews", a.ID), map[string]any{"accepted": false, "comment": "PER ends earlier"}, nil)

			c := ts.SignInPage(b, reviewer.Email, testPassword)
			base, _ := url.Parse(ts.URL)
			req := httptest.NewRequest("GET", fmt.Sprintf("/projects/%d/label/%d", pr.ID, task), nil)
			for _, ck := range c.http.Jar.Cookies(base) {
				req.AddCookie(ck)
			}
			h := ts.Web.Handler()
			serve := func() time.Duration {
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				d := time.Since(start)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="review-panel"`) {
					b.Fatalf("label page = %d:\n%s", rec.Code, rec.Body)
				}
				return d
			}
			serve() // warm: templates parsed, connections open
			times := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				times = append(times, serve())
			}
			b.StopTimer()
			benchstat.ReportLatency(b, times)
		})
	}
}
