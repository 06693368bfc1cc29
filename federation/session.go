package federation

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/aws/aws-sdk-go-v2/aws"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/glossa-dev/glossa"
)

// This file builds what broker mode's AssumeRole carries about the person
// and the storage: the role session name and source identity (who, as
// CloudTrail shows it), session tags (for policies that test
// aws:PrincipalTag) and the session policy that narrows the role to the
// storage's bucket and prefix.

// sessionNameRE is the syntax of RoleSessionName and SourceIdentity
// ([API] AssumeRole: [\w+=,.@-]*, 2 to 64 characters).
var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// sessionName derives a RoleSessionName (and SourceIdentity) from the
// person: their email, else their NameID, else their Glossa user ID. Every
// character AWS does not allow becomes "-" (which also keeps a name from
// starting with "aws:", which SourceIdentity forbids), the result is cut
// to 64 characters, and a name shorter than 2 gets a "glossa-" prefix.
func sessionName(m *glossa.Member, id *glossa.SAMLIdentity) string {
	src := m.Email
	if src == "" && id != nil {
		src = id.Email
	}
	if src == "" && id != nil {
		src = id.NameID
	}
	if src == "" {
		src = "user-" + strconv.FormatInt(m.ID, 10)
	}
	var b strings.Builder
	for _, r := range src {
		if r < unicode.MaxASCII && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
		if b.Len() == 64 {
			break
		}
	}
	name := b.String()
	if len(name) < 2 {
		name = "glossa-" + name
	}
	return name
}

// Session tag limits ([IAMUG] id_session-tags.md): at most 50 tags, keys
// of 1–128 and values of 0–256 characters from letters, digits, spaces and
// _ . : / = + - @, keys not starting with "aws:".
const (
	maxTags     = 50
	maxTagKey   = 128
	maxTagValue = 256
)

// tagChar reports whether r may appear in a session tag key or value.
func tagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) || strings.ContainsRune("_.:/=+-@", r)
}

// tagValue makes s a valid tag value: other characters become "_", and
// it is cut to maxTagValue characters.
func tagValue(s string) string {
	var out []rune
	for _, r := range s {
		if len(out) == maxTagValue {
			break
		}
		if !tagChar(r) {
			r = '_'
		}
		out = append(out, r)
	}
	return string(out)
}

// sessionTags are the tags broker mode puts on a person's session, taken
// from what the IdP said: the email, the IdP groups (joined with ":",
// since "," is not allowed in a tag value; groups that do not fit in 256
// characters are left out rather than cut in the middle) and the IdP's
// entity ID. Empty values are left out.
func sessionTags(m *glossa.Member, id *glossa.SAMLIdentity) []ststypes.Tag {
	var tags []ststypes.Tag
	add := func(k, v string) {
		if v == "" || len(tags) == maxTags || len(k) > maxTagKey {
			return
		}
		tags = append(tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(tagValue(v))})
	}
	email := m.Email
	if email == "" && id != nil {
		email = id.Email
	}
	add("glossa-email", email)
	if id != nil {
		var groups []string
		n := 0
		for _, g := range id.Groups {
			g = tagValue(g)
			l := len([]rune(g))
			if g == "" || n+l+len(groups) > maxTagValue { // len(groups): the separators
				continue
			}
			groups = append(groups, g)
			n += l
		}
		add("glossa-groups", strings.Join(groups, ":"))
		add("glossa-idp", id.IdPEntityID)
	}
	return tags
}

// maxPolicy is the longest session Policy STS accepts ([API]).
const maxPolicy = 2048

// sessionPolicy is broker mode's session policy: it narrows the assumed
// role (effective rights = role policies ∩ session policy, §1) to reading
// and writing the objects under the storage's prefix and listing only
// that prefix. The role may allow more; the session never does.
//
// Security-sensitive: the prefix goes into ARNs and a StringLike pattern,
// where "*" and "?" are wildcards and "${" starts a policy variable, so
// those characters are written as IAM's literal forms ${*}, ${?} and
// ${$}; a prefix cannot widen the session. Characters outside
// U+0020–U+00FF, which Policy may not contain, are JSON-escaped.
func sessionPolicy(roleARN string, s *glossa.Storage) (string, error) {
	type statement struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Action    []string       `json:"Action"`
		Resource  string         `json:"Resource"`
		Condition map[string]any `json:"Condition,omitempty"`
	}
	bucketARN := "arn:" + partitionOf(roleARN) + ":s3:::" + s.Bucket
	prefix := literal(s.ListPrefix())
	list := statement{Sid: "GlossaList", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: bucketARN}
	if prefix != "" {
		list.Condition = map[string]any{"StringLike": map[string]any{"s3:prefix": []string{prefix + "*"}}}
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []statement{
			{Sid: "GlossaObjects", Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject"}, Resource: bucketARN + "/" + prefix + "*"},
			list,
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	p := asciiJSON(string(b))
	if len(p) > maxPolicy {
		return "", glossa.Errorf(glossa.EINVALID, "The storage's bucket and prefix are too long for an AWS session policy (at most %d characters): shorten the prefix.", maxPolicy)
	}
	return p, nil
}

// literal writes IAM's wildcard and variable characters as their literal
// policy variables ([IAMUG] reference_policies_variables.md, "Special
// characters").
func literal(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '$':
			b.WriteString("${" + string(r) + "}")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// asciiJSON escapes every non-ASCII character of a JSON text as \uXXXX
// (surrogate pairs beyond the BMP). Outside strings JSON has no such
// characters, so the text means the same.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}
