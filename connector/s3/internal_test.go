package s3

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
)

func TestCompileFilter(t *testing.T) {
	tests := []struct {
		expr, key string
		want      bool
	}{
		{"", "anything/at/all.jpg", true},
		// re.match: anchored at the start, not at the end.
		{`img`, "img/1.jpg", true},
		{`img`, "data/img/1.jpg", false},
		{`.*\.jpg`, "a/b/c.jpg", true},
		{`.*\.jpg`, "a/b/c.jpg.txt", true}, // Python's re.match agrees
		{`.*\.jpg$`, "a/b/c.jpg.txt", false},
		{`a|b`, "b/1", true},    // top-level alternation stays anchored...
		{`a|b`, "c/b/1", false}, // ...in both branches
		{`(?i)IMG`, "img/1", true},
	}
	for _, tt := range tests {
		re, err := compileFilter(tt.expr)
		if err != nil {
			t.Fatalf("compileFilter(%q): %v", tt.expr, err)
		}
		if got := re == nil || re.MatchString(tt.key); got != tt.want {
			t.Errorf("filter %q on %q = %v, want %v", tt.expr, tt.key, got, tt.want)
		}
	}
	for _, bad := range []string{`(abc`, `(?=look)ahead`, `a**`} {
		_, err := compileFilter(bad)
		if glossa.ErrorCode(err) != glossa.EINVALID || !strings.Contains(glossa.ErrorMessage(err), "regex_filter") {
			t.Errorf("compileFilter(%q) = %v, want EINVALID naming regex_filter", bad, err)
		}
	}
}

func TestParseTasks(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one task", `{"data": {"text": "a"}, "annotations": []}`, []string{`{"data":{"text":"a"},"annotations":[]}`}},
		{"bare data", `{"text": "a", "n": 1.50}`, []string{`{"data":{"text":"a","n":1.50}}`}},
		{"list", `[{"text": "a"}, {"data": {"text": "b"}}]`, []string{`{"data":{"text":"a"}}`, `{"data":{"text":"b"}}`}},
		{"json lines", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n\n{\"data\": {\"x\": 1}}\n", []string{`{"data":{"text":"a"}}`, `{"data":{"text":"b"}}`, `{"data":{"x":1}}`}},
		{"empty list", `[]`, nil},
		{"empty file", ``, nil},
		{"data that is not an object is data", `{"value": {"data": 1}}`, []string{`{"data":{"value":{"data":1}}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTasks([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, g := range got {
				gotS = append(gotS, string(g))
			}
			if diff := cmp.Diff(tt.want, gotS); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	bad := []struct{ name, in, want string }{
		{"truncated", `{"text": "a"`, "ends in the middle"},
		{"syntax", "{\"a\": 1}\n{\"b\": x}", "line 2, column"},
		{"number", `42`, "not a JSON object or list"},
		{"list of numbers", `[1, 2]`, "index 0"},
		{"list then more", `[{"a": 1}] {"b": 2}`, "only value"},
		{"data not object", `{"data": "s3://b/k"}`, `"data" is not an object`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTasks([]byte(tt.in))
			if glossa.ErrorCode(err) != glossa.EINVALID || !strings.Contains(glossa.ErrorMessage(err), tt.want) {
				t.Errorf("parseTasks(%q) = %v, want EINVALID containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFolderOf(t *testing.T) {
	for key, want := range map[string]string{
		"a.jpg":           "",
		"teamA/a.jpg":     "teamA/",
		"teamA/sub/a.jpg": "teamA/sub/",
		"/a.jpg":          "/",
	} {
		if got := folderOf(key); got != want {
			t.Errorf("folderOf(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestBlobObject(t *testing.T) {
	s := &glossa.Storage{Bucket: "scans"}
	o := blobObject(s, "image", "teamA/x y.jpg")
	if o.Key != "teamA/x y.jpg" || o.Folder != "teamA/" || len(o.Tasks) != 1 {
		t.Fatalf("blobObject = %+v", o)
	}
	var task struct{ Data map[string]string }
	if err := json.Unmarshal(o.Tasks[0], &task); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"image": "s3://scans/teamA/x y.jpg"}, task.Data); diff != "" {
		t.Errorf("task data (-want +got)\n%s", diff)
	}
}

func TestPresignExpiry(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		ttl     int
		expires time.Time
		want    int64
		wantErr string
	}{
		{"ttl, static keys", 15, time.Time{}, 900, ""},
		{"default ttl", 0, time.Time{}, 60, ""},
		{"ttl below lifetime", 15, now.Add(time.Hour), 900, ""},
		{"capped by credentials", 60, now.Add(10*time.Minute + 500*time.Millisecond), 600, ""},
		{"capped by sigv4", 32767, time.Time{}, 7 * 24 * 3600, ""},
		{"almost expired", 15, now.Add(999 * time.Millisecond), 0, glossa.EREAUTH},
		{"expired", 15, now.Add(-time.Second), 0, glossa.EREAUTH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &glossa.Storage{PresignTTL: tt.ttl, AuthMode: glossa.AuthSAMLFederated}
			got, err := presignExpiry(s, glossa.Credentials{Expires: tt.expires}, now)
			if glossa.ErrorCode(err) != tt.wantErr || got != tt.want {
				t.Errorf("presignExpiry = %d, %v; want %d, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestEscapeKey(t *testing.T) {
	for key, want := range map[string]string{
		"a/b-c_d.e~f.jpg": "a/b-c_d.e~f.jpg",
		"x y+z.jpg":       "x%20y%2Bz.jpg",
		"é?#%":            "%C3%A9%3F%23%25",
	} {
		if got := escapeKey(key); got != want {
			t.Errorf("escapeKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestExportBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i, w := range want {
		if got := exportBackoff(i); got != w {
			t.Errorf("exportBackoff(%d) = %v, want %v", i, got, w)
		}
	}
	for _, n := range []int{8, 9, 100, 1 << 30} {
		if got := exportBackoff(n); got != ExportBackoffMax {
			t.Errorf("exportBackoff(%d) = %v, want %v", n, got, ExportBackoffMax)
		}
	}
}

func TestLRU(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newLRU[string, int](2)
	c.put("a", 1, time.Time{})
	c.put("b", 2, now.Add(time.Minute))
	if v, ok := c.get("a", now); !ok || v != 1 {
		t.Fatalf("get a = %v, %v", v, ok)
	}
	c.put("c", 3, time.Time{}) // evicts b, the least recently used
	if _, ok := c.get("b", now); ok {
		t.Error("b survived eviction")
	}
	c.put("d", 4, now.Add(time.Second))
	if _, ok := c.get("d", now.Add(time.Second)); ok {
		t.Error("d survived its expiry")
	}
	if c.len() > 2 {
		t.Errorf("len = %d, want at most 2", c.len())
	}
}
