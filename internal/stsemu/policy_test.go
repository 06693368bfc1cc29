package stsemu

import "testing"

func TestWildcardMatch(t *testing.T) {
	for _, c := range []struct {
		s, pattern string
		want       bool
	}{
		{"sts:assumerolewithsaml", "sts:*", true},
		{"sts:assumerolewithsaml", "sts:assumerole", false},
		{"sts:assumerolewithsaml", "sts:assumerole*", true},
		{"sts:assumerolewithsaml", "*saml", true},
		{"abc", "a?c", true},
		{"ac", "a?c", false},
		{"ménage", "m?nage", true},
		{"https://glossa.example/saml/acme/acs", "https://glossa.example/saml/*/acs", true},
		{"https://glossa.example/saml/acme/acs/x", "https://glossa.example/saml/*/acs", false},
		{"", "*", true},
		{"", "", true},
		{"x", "", false},
	} {
		if got := wildcardMatch(c.s, c.pattern); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.s, c.pattern, got)
		}
	}
}

// TestConditionSemantics pins how absent and multi-valued keys evaluate
// (IAM User Guide, reference_policies_multi-value-conditions.md).
func TestConditionSemantics(t *testing.T) {
	ctx := requestContext{
		"saml:aud":                  {"https://glossa.example/saml/acme/acs"},
		"saml:edupersonaffiliation": {"staff", "member"},
	}
	for _, c := range []struct {
		cond string
		want bool
	}{
		{`{"StringEquals":{"SAML:AUD":"https://glossa.example/saml/acme/acs"}}`, true},
		{`{"StringEqualsIgnoreCase":{"saml:aud":"HTTPS://GLOSSA.EXAMPLE/SAML/ACME/ACS"}}`, true},
		{`{"StringEquals":{"saml:aud":["a","https://glossa.example/saml/acme/acs"]}}`, true},
		{`{"StringNotEquals":{"saml:aud":"https://signin.aws.amazon.com/saml"}}`, true},
		{`{"StringEquals":{"saml:edupersonaffiliation":"staff"}}`, true},     // some value matches
		{`{"StringNotEquals":{"saml:edupersonaffiliation":"staff"}}`, false}, // negated: no value may match
		{`{"ForAllValues:StringEquals":{"saml:edupersonaffiliation":["staff","member"]}}`, true},
		{`{"ForAllValues:StringEquals":{"saml:edupersonaffiliation":["staff"]}}`, false},
		{`{"ForAnyValue:StringLike":{"saml:edupersonaffiliation":"mem*"}}`, true},
		{`{"ForAnyValue:StringNotEquals":{"saml:edupersonaffiliation":"staff"}}`, true},
		{`{"StringEquals":{"saml:uid":"x"}}`, false},             // absent
		{`{"StringNotEquals":{"saml:uid":"x"}}`, true},           // absent, negated
		{`{"StringEqualsIfExists":{"saml:uid":"x"}}`, true},      // absent, IfExists
		{`{"ForAllValues:StringEquals":{"saml:uid":"x"}}`, true}, // absent: vacuously true
		{`{"ForAnyValue:StringEquals":{"saml:uid":"x"}}`, false},
		{`{"Null":{"saml:uid":"true"}}`, true},
		{`{"Null":{"saml:aud":"true"}}`, false},
		{`{"Null":{"saml:aud":false}}`, true},
	} {
		p, err := parsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithSAML","Condition":` + c.cond + `}}`)
		if err != nil {
			t.Fatalf("%s: %v", c.cond, err)
		}
		if got := p.allows("arn:aws:iam::123456789012:saml-provider/X", "sts:AssumeRoleWithSAML", ctx); got != c.want {
			t.Errorf("%s: allows = %v, want %v", c.cond, got, c.want)
		}
	}
}

func TestParseRolePair(t *testing.T) {
	const (
		role = "arn:aws:iam::123456789012:role/path/Glossa"
		prov = "arn:aws:iam::123456789012:saml-provider/Acme"
		gov  = "arn:aws-us-gov:iam::123456789012:role/G"
		govP = "arn:aws-us-gov:iam::123456789012:saml-provider/G"
		cnR  = "arn:aws-cn:iam::123456789012:role/C"
		cnP  = "arn:aws-cn:iam::123456789012:saml-provider/C"
	)
	for _, c := range []struct {
		v          string
		role, prov string
		ok         bool
	}{
		{role + "," + prov, role, prov, true},
		{prov + "," + role, role, prov, true},
		{" " + role + " ,\t" + prov + "\n", role, prov, true},
		{govP + "," + gov, gov, govP, true},
		{cnR + "," + cnP, cnR, cnP, true},
		{role + "," + role, "", "", false},
		{role, "", "", false},
		{role + "," + prov + "," + prov, "", "", false},
		{"arn:aws:iam::123456789012:user/x," + prov, "", "", false},
		{"arn:aws-iso:iam::123456789012:role/x," + prov, "", "", false},
	} {
		r, p, ok := parseRolePair(c.v)
		if r != c.role || p != c.prov || ok != c.ok {
			t.Errorf("parseRolePair(%q) = %q, %q, %v", c.v, r, p, ok)
		}
	}
}
