package federation

import (
	"regexp"
	"strings"
)

// AttrRole is the SAML attribute that lists the AWS roles a person may
// assume, one "role ARN,provider ARN" pair per value (§3). Its name is
// case-sensitive.
const AttrRole = "https://aws.amazon.com/SAML/Attributes/Role"

// RolePair is one value of the AWS Role attribute: a role and the IAM
// SAML provider through which it may be assumed.
type RolePair struct {
	RoleARN, PrincipalARN string
}

// iamARN matches the role and SAML-provider ARNs of the three partitions
// AWS SAML federation serves (§3): arn:PARTITION:iam::ACCOUNT:KIND/[PATH/]NAME.
var iamARN = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::[0-9]{12}:(role|saml-provider)/(?:[\x21-\x7e]+/)?[\w+=,.@-]+$`)

// ParseRolePairs reads the values of the AWS Role attribute. AWS accepts
// the two ARNs in either order, and IdPs send both (AWS's own docs show
// role first, its ADFS guide provider first); clients that assumed one
// order broke (§3). So each value is split at its comma, trimmed, and the
// parts told apart by ":role/" and ":saml-provider/". Values that are not
// exactly one role ARN and one SAML-provider ARN are skipped, as are
// repeated pairs; the order of the rest is kept.
func ParseRolePairs(values []string) []RolePair {
	var out []RolePair
	seen := make(map[RolePair]bool)
	for _, v := range values {
		parts := strings.Split(v, ",")
		if len(parts) != 2 {
			continue
		}
		var p RolePair
		for _, part := range parts {
			part = strings.TrimSpace(part)
			m := iamARN.FindStringSubmatch(part)
			if m == nil {
				continue
			}
			switch m[2] {
			case "role":
				p.RoleARN = part
			case "saml-provider":
				p.PrincipalARN = part
			}
		}
		if p.RoleARN == "" || p.PrincipalARN == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// partitionOf returns the partition of an ARN ("aws", "aws-cn",
// "aws-us-gov"), "aws" when it names none.
func partitionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) >= 2 && strings.HasPrefix(parts[1], "aws") {
		return parts[1]
	}
	return "aws"
}
