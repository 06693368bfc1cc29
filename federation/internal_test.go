package federation

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/glossa-dev/glossa"
)

func TestSessionName(t *testing.T) {
	for _, tc := range []struct {
		email, nameID string
		want          string
	}{
		{"alice@acme.example", "", "alice@acme.example"},
		{"o'brien+tag@acme.example", "", "o-brien+tag@acme.example"},
		{"josé@acme.example", "", "jos-@acme.example"},
		{"aws:admin@acme.example", "", "aws-admin@acme.example"}, // SourceIdentity may not start with aws:
		{strings.Repeat("a", 80) + "@acme.example", "", strings.Repeat("a", 64)},
		{"", "u-4711", "u-4711"},
		{"", "x", "glossa-x"},
		{"", "", "user-7"},
	} {
		m := &glossa.Member{User: glossa.User{ID: 7, Email: tc.email}}
		got := sessionName(m, &glossa.SAMLIdentity{NameID: tc.nameID})
		if got != tc.want || !sessionNameRE.MatchString(got) {
			t.Errorf("sessionName(%q, %q) = %q, want %q", tc.email, tc.nameID, got, tc.want)
		}
	}
}

var tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func TestSessionTags(t *testing.T) {
	var groups []string
	for i := 0; i < 40; i++ {
		groups = append(groups, "group, number "+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	m := &glossa.Member{User: glossa.User{ID: 7, Email: "alice@acme.example"}}
	id := &glossa.SAMLIdentity{IdPEntityID: "https://idp.acme.example/saml", Groups: append([]string{"Team A (Scans)"}, groups...)}
	tags := sessionTags(m, id)
	got := map[string]string{}
	for _, tg := range tags {
		k, v := aws.ToString(tg.Key), aws.ToString(tg.Value)
		if len(k) > maxTagKey || !tagRE.MatchString(k) || strings.HasPrefix(k, "aws:") {
			t.Errorf("tag key %q is not valid", k)
		}
		if utf8.RuneCountInString(v) > maxTagValue || !tagRE.MatchString(v) {
			t.Errorf("tag %s = %q is not a valid value", k, v)
		}
		got[k] = v
	}
	if got["glossa-email"] != "alice@acme.example" || got["glossa-idp"] != "https://idp.acme.example/saml" {
		t.Errorf("tags = %v", got)
	}
	if g := got["glossa-groups"]; !strings.HasPrefix(g, "Team A _Scans_:group_ number a:") || len(g) < 200 {
		t.Errorf("groups tag = %q, want the groups that fit, joined with ':'", g)
	}
	if len(sessionTags(&glossa.Member{}, &glossa.SAMLIdentity{})) != 0 {
		t.Error("empty values became tags")
	}
}

func TestSessionPolicy(t *testing.T) {
	type stmt struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  string
		Condition map[string]map[string][]string
	}
	parse := func(t *testing.T, role string, s *glossa.Storage) []stmt {
		t.Helper()
		p, err := sessionPolicy(role, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("policy has character %U: %s", r, p)
			}
		}
		var doc struct {
			Version   string
			Statement []stmt
		}
		if err := json.Unmarshal([]byte(p), &doc); err != nil || doc.Version != "2012-10-17" {
			t.Fatalf("policy %s: %v", p, err)
		}
		return doc.Statement
	}
	role := "arn:aws:iam::123456789012:role/TeamA"
	for _, tc := range []struct {
		name, role, bucket, prefix string
		objects, list              string
		listPrefix                 []string
	}{
		{"folder", role, "tasks", "teamA", "arn:aws:s3:::tasks/teamA/*", "arn:aws:s3:::tasks", []string{"teamA/*"}},
		{"trailing slash", role, "tasks", "teamA/2026/", "arn:aws:s3:::tasks/teamA/2026/*", "arn:aws:s3:::tasks", []string{"teamA/2026/*"}},
		{"whole bucket", role, "tasks", "", "arn:aws:s3:::tasks/*", "arn:aws:s3:::tasks", nil},
		{"wildcards are literal", role, "tasks", "a*b?c$", "arn:aws:s3:::tasks/a${*}b${?}c${$}/*", "arn:aws:s3:::tasks", []string{"a${*}b${?}c${$}/*"}},
		{"non-ASCII", role, "tasks", "Bücher/日本", "arn:aws:s3:::tasks/Bücher/日本/*", "arn:aws:s3:::tasks", []string{"Bücher/日本/*"}},
		{"China partition", "arn:aws-cn:iam::123456789012:role/TeamA", "tasks", "x", "arn:aws-cn:s3:::tasks/x/*", "arn:aws-cn:s3:::tasks", []string{"x/*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := parse(t, tc.role, &glossa.Storage{Bucket: tc.bucket, Prefix: tc.prefix})
			want := []stmt{
				{Sid: "GlossaObjects", Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject"}, Resource: tc.objects},
				{Sid: "GlossaList", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: tc.list},
			}
			if tc.listPrefix != nil {
				want[1].Condition = map[string]map[string][]string{"StringLike": {"s3:prefix": tc.listPrefix}}
			}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := sessionPolicy(role, &glossa.Storage{Bucket: "tasks", Prefix: strings.Repeat("p", 1200)}); glossa.ErrorCode(err) != glossa.EINVALID {
		t.Errorf("a policy over 2048 characters: err = %v, want EINVALID", err)
	}
}
