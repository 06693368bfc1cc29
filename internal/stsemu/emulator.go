package stsemu

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Provider is an IAM SAML provider: its ARN,
// arn:aws:iam::ACCOUNT:saml-provider/NAME, and the IdP's SAML metadata (an
// md:EntityDescriptor with the entityID and 1 to 10 signing certificates),
// as given to IAM's CreateSAMLProvider.
type Provider struct {
	ARN      string
	Metadata []byte
}

// Role is an IAM role that SAML users may assume.
type Role struct {
	ARN         string // arn:aws:iam::ACCOUNT:role/NAME
	TrustPolicy string // the role's trust (assume-role) policy, IAM JSON
	// MaxSessionDuration is the role's maximum session, 1 to 12 hours;
	// 0 means IAM's default of 1 hour.
	MaxSessionDuration time.Duration
}

// IssueRequest is what the emulator asks an Issuer for once AWS's checks
// have passed: a session of RoleARN named SessionName, lasting Duration
// (already capped by SessionNotOnOrAfter and the SessionDuration attribute),
// narrowed by the session policies Policy and PolicyARNs, carrying the
// assertion's session tags and source identity.
type IssueRequest struct {
	RoleARN        string
	SessionName    string
	SourceIdentity string
	Policy         string
	PolicyARNs     []string
	Duration       time.Duration
	Tags           map[string]string
	TransitiveTags []string
}

// Issuer obtains the real temporary credentials behind an emulated
// AssumeRoleWithSAML, e.g. from an S3-compatible store's AssumeRole
// (SeaweedIssuer). A returned *Error is sent to the caller as is; any other
// error becomes InternalFailure (500).
type Issuer interface {
	Issue(ctx context.Context, r IssueRequest) (Credentials, error)
}

// IssuerFunc adapts a function to Issuer.
type IssuerFunc func(ctx context.Context, r IssueRequest) (Credentials, error)

// Issue calls f.
func (f IssuerFunc) Issue(ctx context.Context, r IssueRequest) (Credentials, error) { return f(ctx, r) }

// Credentials are temporary credentials as an Issuer returns them. The
// emulator answers with the Expiration AWS would give (§15 item 11), or the
// issuer's Expiration when that is sooner (a zero Expiration is ignored), so
// that the reported Expiration is never later than the real one.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// DefaultAudiences are the audiences AWS accepts in an AudienceRestriction
// ([IAMUG] id_roles_providers_create_saml_assertions.md; reference §4, §15
// item 6).
var DefaultAudiences = []string{"urn:amazon:webservices", "https://signin.aws.amazon.com/saml"}

// Emulator is an http.Handler emulating AWS STS AssumeRoleWithSAML over the
// STS Query protocol (form POST to "/", Action=AssumeRoleWithSAML,
// Version=2011-06-15, unsigned). See the package documentation for the
// checks it makes and the errors it answers with.
//
// Its fields are read on every request, so a test may change them between
// requests (e.g. replace a provider's metadata, as `aws iam
// update-saml-provider` does) but not during one.
type Emulator struct {
	// Account is the AWS account owning the providers and roles; their ARNs
	// must be in it. Default "000000000000".
	Account   string
	Providers []Provider
	Roles     []Role
	// Audiences lists the audiences accepted in the assertion's
	// AudienceRestriction; default DefaultAudiences.
	Audiences []string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Issuer obtains the credentials; required.
	Issuer Issuer
}

// Limits of the request ([API] AssumeRoleWithSAML; reference §1, §7).
const (
	minARN, maxARN             = 20, 2048
	minAssertion, maxAssertion = 4, 100000
	minDuration, maxDuration   = 900, 43200
	defaultDuration            = 3600
	maxPolicy                  = 2048
	maxPolicyARNs              = 10
	maxRequestBody             = 1 << 20
	redeemWindow               = 5 * time.Minute
)

// SAML attribute names AWS reads ([IAMUG]; reference §3). Names are
// case-sensitive.
const (
	attrPrefix         = "https://aws.amazon.com/SAML/Attributes/"
	attrRole           = attrPrefix + "Role"
	attrRoleSession    = attrPrefix + "RoleSessionName"
	attrSessionLength  = attrPrefix + "SessionDuration"
	attrSourceIdentity = attrPrefix + "SourceIdentity"
	attrPrincipalTag   = attrPrefix + "PrincipalTag:"
	attrTransitiveTags = attrPrefix + "TransitiveTagKeys"
	nameIDFormatPrefix = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
	nameIDUnspecified  = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	bearer             = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

var (
	// sessionNameRE is RoleSessionName's and SourceIdentity's syntax
	// (troubleshoot_saml.md).
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	// policyCharsRE is Policy's character set ([API]).
	policyCharsRE = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
	// tagKeyRE is the syntax of a session tag key (id_session-tags.md).
	tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
)

// Check parses the emulator's configuration as IAM would have accepted it
// when the providers and roles were created: provider metadata ("Could not
// parse metadata"), role ARNs and trust policies (MalformedPolicyDocument),
// MaxSessionDuration, and the Issuer. ServeHTTP answers every request with
// InternalFailure while Check fails.
func (e *Emulator) Check() error {
	_, err := e.load()
	return err
}

// config is the parsed configuration of one request.
type config struct {
	account   string
	providers map[string]*provider
	roles     map[string]*role
	audiences []string
	now       time.Time
}

func (e *Emulator) load() (*config, error) {
	c := &config{account: e.Account, providers: map[string]*provider{}, roles: map[string]*role{}, audiences: e.Audiences}
	if c.account == "" {
		c.account = "000000000000"
	}
	if len(c.audiences) == 0 {
		c.audiences = DefaultAudiences
	}
	if e.Now != nil {
		c.now = e.Now()
	} else {
		c.now = time.Now()
	}
	if e.Issuer == nil {
		return nil, errors.New("stsemu: Emulator.Issuer is nil")
	}
	for _, p := range e.Providers {
		pp, err := parseProvider(p)
		if err != nil {
			return nil, fmt.Errorf("stsemu: %w", err)
		}
		if pp.id.account != c.account {
			return nil, fmt.Errorf("stsemu: provider %s is not in account %s", p.ARN, c.account)
		}
		c.providers[p.ARN] = pp
	}
	for _, r := range e.Roles {
		rr, err := parseRole(r)
		if err != nil {
			return nil, fmt.Errorf("stsemu: %w", err)
		}
		if rr.id.account != c.account {
			return nil, fmt.Errorf("stsemu: role %s is not in account %s", r.ARN, c.account)
		}
		c.roles[r.ARN] = rr
	}
	return c, nil
}

// ServeHTTP answers one STS Query request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, requestID, validationError("could not parse the request: %v", err))
		return
	}
	action, version := r.Form.Get("Action"), r.Form.Get("Version")
	if action != "AssumeRoleWithSAML" || version != "2011-06-15" {
		writeError(w, requestID, newError(http.StatusBadRequest, CodeInvalidAction,
			"Could not find operation %s for version %s", action, version))
		return
	}
	cfg, err := e.load()
	if err != nil {
		writeError(w, requestID, newError(http.StatusInternalServerError, CodeInternalFailure, "%v", err))
		return
	}
	res, stsErr := e.assumeRoleWithSAML(r.Context(), cfg, r.Form, requestID)
	if stsErr != nil {
		writeError(w, requestID, stsErr)
		return
	}
	res.XMLNS = stsNamespace
	res.RequestID = requestID
	writeXML(w, requestID, http.StatusOK, res)
}

// input is the parsed AssumeRoleWithSAML request.
type input struct {
	roleARN, principalARN, assertion, policy string
	duration                                 int
	policyARNs                               []string
}

// parseInput applies the request's model constraints (§15 item 1) and
// returns AWS's ValidationError listing every violation.
func parseInput(form map[string][]string) (*input, *Error) {
	get := func(k string) (string, bool) {
		v, ok := form[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	in := &input{duration: defaultDuration}
	var v constraintViolations
	length := func(member, value string, present, sensitive bool, min, max int) {
		switch n := len([]rune(value)); {
		case !present:
			v = append(v, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
		case n < min:
			v.add(member, value, sensitive, fmt.Sprintf("Member must have length greater than or equal to %d", min))
		case n > max:
			v.add(member, value, sensitive, fmt.Sprintf("Member must have length less than or equal to %d", max))
		}
	}
	var ok bool
	in.roleARN, ok = get("RoleArn")
	length("roleArn", in.roleARN, ok, false, minARN, maxARN)
	in.principalARN, ok = get("PrincipalArn")
	length("principalArn", in.principalARN, ok, false, minARN, maxARN)
	in.assertion, ok = get("SAMLAssertion")
	length("sAMLAssertion", in.assertion, ok, true, minAssertion, maxAssertion)
	if s, ok := get("DurationSeconds"); ok {
		d, err := strconv.Atoi(s)
		switch {
		case err != nil:
			v.add("durationSeconds", s, false, "Member must be an integer")
		case d < minDuration:
			v.add("durationSeconds", s, false, fmt.Sprintf("Member must have value greater than or equal to %d", minDuration))
		case d > maxDuration:
			v.add("durationSeconds", s, false, fmt.Sprintf("Member must have value less than or equal to %d", maxDuration))
		default:
			in.duration = d
		}
	}
	if p, ok := get("Policy"); ok {
		in.policy = p
		length("policy", p, true, false, 1, maxPolicy)
		if p != "" && !policyCharsRE.MatchString(p) {
			v.add("policy", p, false, `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
		}
	}
	for i := 1; ; i++ {
		a, ok := get(fmt.Sprintf("PolicyArns.member.%d.arn", i))
		if !ok {
			break
		}
		in.policyARNs = append(in.policyARNs, a)
		length(fmt.Sprintf("policyArns.%d.member.arn", i), a, true, false, minARN, maxARN)
	}
	if len(in.policyARNs) > maxPolicyARNs {
		v.add("policyArns", "["+strings.Join(in.policyARNs, ", ")+"]", false, fmt.Sprintf("Member must have length less than or equal to %d", maxPolicyARNs))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.policy != "" {
		var obj map[string]any
		if json.Unmarshal([]byte(in.policy), &obj) != nil {
			return nil, newError(http.StatusBadRequest, CodeMalformedPolicy, MsgPolicyNotJSON)
		}
	}
	return in, nil
}

// assumeRoleWithSAML runs AWS's checks in AWS's order (reference §15 items
// 1–12) and issues the credentials.
func (e *Emulator) assumeRoleWithSAML(ctx context.Context, cfg *config, form map[string][]string, requestID string) (*assumeRoleWithSAMLResponse, *Error) {
	// 1. Request.
	in, stsErr := parseInput(form)
	if stsErr != nil {
		return nil, stsErr
	}
	roleID, ok1 := parseARN(in.roleARN)
	provID, ok2 := parseARN(in.principalARN)
	if !ok1 || !ok2 || roleID.kind != "role" || provID.kind != "saml-provider" {
		return nil, validationError(MsgRequestARNInvalid)
	}

	// 2. Provider. It is looked up before the assertion is read: AWS
	// answers "Specified provider doesn't exist" to the SAMLAssertion
	// "base64SAML", which is no SAML response (the SAML test of
	// jenkinsci/pipeline-aws-plugin's withAWS step).
	prov := cfg.providers[in.principalARN]
	if prov == nil {
		return nil, invalidIdentity(MsgNoSuchProvider)
	}
	xmlBytes, err := decodeBase64(in.assertion)
	if err != nil {
		return nil, validationError("SAMLAssertion is not valid base64: %v", err)
	}

	// 2–3. Issuer, XML, signatures.
	resp, stsErr := readResponse(xmlBytes, prov, requestID)
	if stsErr != nil {
		return nil, stsErr
	}
	a := resp.assertion

	// 4. Time.
	if stsErr := checkTimes(a, resp.responseIssueInstant, cfg.now); stsErr != nil {
		return nil, stsErr
	}

	// 5. Subject.
	subj, stsErr := readSubject(a)
	if stsErr != nil {
		return nil, stsErr
	}

	// 6. Audience.
	if !hasAudience(a, cfg.audiences) {
		return nil, invalidIdentity(MsgAudience)
	}

	attrs := readAttributes(a)

	// 7. Role pair, and the role itself (a missing role is AccessDenied,
	// troubleshoot_saml.md).
	if !hasRolePair(attrs[attrRole], in.roleARN, in.principalARN) {
		return nil, accessDenied()
	}
	rl := cfg.roles[in.roleARN]
	if rl == nil {
		return nil, accessDenied()
	}

	// 8. RoleSessionName and SourceIdentity.
	names := attrs[attrRoleSession]
	if len(names) == 0 {
		return nil, invalidIdentity(MsgRoleSessionNameRequired)
	}
	sessionName := names[0]
	if !sessionNameRE.MatchString(sessionName) {
		return nil, invalidIdentity(MsgRoleSessionNameInvalid)
	}
	var sourceIdentity string
	if si := attrs[attrSourceIdentity]; len(si) > 0 {
		sourceIdentity = si[0]
		if !sessionNameRE.MatchString(sourceIdentity) || strings.HasPrefix(strings.ToLower(sourceIdentity), "aws:") {
			return nil, invalidIdentity(MsgSourceIdentityInvalid)
		}
	}
	var sessionLength time.Duration
	if sd := attrs[attrSessionLength]; len(sd) > 0 {
		n, err := strconv.Atoi(sd[0])
		if err != nil || n < minDuration || n > maxDuration {
			return nil, invalidIdentity("SessionDuration attribute must be an integer between %d and %d", minDuration, maxDuration)
		}
		sessionLength = time.Duration(n) * time.Second
	}

	// 9. Session tags.
	tags, transitive, stsErr := readTags(attrs)
	if stsErr != nil {
		return nil, stsErr
	}

	// 10. Trust policy: sts:AssumeRoleWithSAML, plus sts:TagSession and
	// sts:SetSourceIdentity when the assertion sets tags or a source
	// identity (troubleshoot_saml.md).
	rc := trustContext(a, attrs, subj, prov, cfg.account, tags, transitive, sourceIdentity)
	actions := []string{"sts:AssumeRoleWithSAML"}
	if len(tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if sourceIdentity != "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, act := range actions {
		if !rl.trust.allows(in.principalARN, act, rc) {
			return nil, accessDenied()
		}
	}

	// 11. Duration: the requested duration may not exceed the role's
	// maximum (an error, not a clamp); the session ends at the earliest of
	// now + DurationSeconds, SessionNotOnOrAfter and now + SessionDuration.
	duration := time.Duration(in.duration) * time.Second
	if duration > rl.maxSession {
		return nil, validationError(MsgDurationExceedsMax)
	}
	expiry := cfg.now.Add(duration)
	for _, as := range children(a, nsAssertion, "AuthnStatement") {
		if s := as.SelectAttrValue("SessionNotOnOrAfter", ""); s != "" {
			t, err := parseTime(s)
			if err != nil {
				return nil, invalidResponse("SessionNotOnOrAfter: %v", err)
			}
			if t.Before(expiry) {
				expiry = t
			}
		}
	}
	if sessionLength > 0 && cfg.now.Add(sessionLength).Before(expiry) {
		expiry = cfg.now.Add(sessionLength)
	}
	if !expiry.After(cfg.now) {
		return nil, expired(MsgExpired) // the IdP session is already over
	}

	// 12. Issue.
	creds, err := e.Issuer.Issue(ctx, IssueRequest{
		RoleARN:        in.roleARN,
		SessionName:    sessionName,
		SourceIdentity: sourceIdentity,
		Policy:         in.policy,
		PolicyARNs:     in.policyARNs,
		Duration:       expiry.Sub(cfg.now),
		Tags:           tags,
		TransitiveTags: transitive,
	})
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, newError(http.StatusInternalServerError, CodeInternalFailure, "issuer: %v", err)
	}
	if !creds.Expiration.IsZero() && creds.Expiration.Before(expiry) {
		expiry = creds.Expiration
	}
	res := &assumeRoleWithSAMLResponse{}
	r := &res.Result
	r.Credentials = credentialsXML{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
		Expiration:      expiry.UTC().Format(time.RFC3339),
	}
	r.AssumedRoleUser.AssumedRoleID = roleUniqueID(in.roleARN) + ":" + sessionName
	r.AssumedRoleUser.ARN = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", roleID.partition, roleID.account, roleID.name, sessionName)
	r.Subject = subj.nameID
	r.SubjectType = subj.subType
	r.Issuer = prov.entityID
	r.Audience = subj.recipient
	r.NameQualifier = nameQualifier(prov.entityID, cfg.account, prov.id.name)
	r.SourceIdentity = sourceIdentity
	if in.policy != "" || len(in.policyARNs) > 0 || len(tags) > 0 {
		size := packedPolicySize(in.policy, in.policyARNs, tags)
		r.PackedPolicySize = &size
	}
	return res, nil
}

// decodeBase64 decodes the SAMLAssertion parameter, tolerating line breaks
// (IdPs wrap base64 at 76 columns) and missing padding.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// roleUniqueID derives a stable IAM-style unique ID (AROA + 17 characters)
// for a role ARN.
func roleUniqueID(roleARN string) string {
	sum := sha256.Sum256([]byte(roleARN))
	return "AROA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// packedPolicySize approximates PackedPolicySize, the percentage of the
// packed session-policy and tag allowance used. AWS's packing is not
// public; the emulator counts the policy (whitespace removed), managed
// policy ARNs and tags against 2048 characters.
func packedPolicySize(policy string, arns []string, tags map[string]string) int32 {
	n := len(strings.Join(strings.Fields(policy), ""))
	for _, a := range arns {
		n += len(a)
	}
	for k, v := range tags {
		n += len(k) + len(v)
	}
	return int32((n*100 + maxPolicy - 1) / maxPolicy)
}

// newRequestID returns a random request ID shaped like AWS's (a UUID).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// The STS Query protocol's XML (reference §2; [API] AssumeRoleWithSAML
// example response, botocore's service-2.json shapes).

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type assumeRoleWithSAMLResponse struct {
	XMLName   xml.Name                 `xml:"AssumeRoleWithSAMLResponse"`
	XMLNS     string                   `xml:"xmlns,attr"`
	Result    assumeRoleWithSAMLResult `xml:"AssumeRoleWithSAMLResult"`
	RequestID string                   `xml:"ResponseMetadata>RequestId"`
}

type assumeRoleWithSAMLResult struct {
	Credentials     credentialsXML `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		ARN           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	Subject          string `xml:"Subject"`
	SubjectType      string `xml:"SubjectType"`
	Issuer           string `xml:"Issuer"`
	Audience         string `xml:"Audience"`
	NameQualifier    string `xml:"NameQualifier"`
	SourceIdentity   string `xml:"SourceIdentity,omitempty"`
	PackedPolicySize *int32 `xml:"PackedPolicySize,omitempty"`
}

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// writeError sends err as an STS ErrorResponse. Type is Sender for the
// caller's errors and Receiver for the service's (5xx).
func writeError(w http.ResponseWriter, requestID string, err *Error) {
	var body errorResponse
	body.XMLNS = stsNamespace
	body.Error.Type = "Sender"
	if err.Status >= 500 {
		body.Error.Type = "Receiver"
	}
	body.Error.Code = err.Code
	body.Error.Message = err.Message
	body.RequestID = requestID
	writeXML(w, requestID, err.Status, body)
}

func writeXML(w http.ResponseWriter, requestID string, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}
