package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/glossa-dev/glossa"
)

// saveTimeout bounds the store writes and audit records that follow the
// exchanges. They run after ExchangeTimeout may have passed (a failure
// must still be recorded), so they get a budget of their own.
const saveTimeout = 5 * time.Second

// Codes recorded in PersonCredential.ErrorCode for failures that are not
// STS's own errors.
const (
	CodeRoleNotAsserted = "RoleNotAsserted" // the assertion does not carry the role
	CodeNoBrokerRole    = "NoBrokerRole"    // no IdP group of the person maps to a role
	CodeNoPrincipal     = "NoPrincipal"     // Glossa has no AWS identity for AssumeRole
	CodeNoSessionName   = "NoSessionName"   // no email or NameID to name the session after
	CodeMisconfigured   = "Misconfigured"   // the storage's settings cannot work
	CodeTimeout         = "Timeout"         // STS did not answer within the budget
	CodeUnreachable     = "Unreachable"     // STS could not be reached
)

// exchange is one credential exchange of a sign-in: one key (what the
// credentials are stored under), the role, and the storages it serves.
type exchange struct {
	key      string
	broker   bool
	storage  *glossa.Storage // the first storage needing the key: its endpoint, region, duration (and, in broker mode, bucket)
	storages []int64
	role     RolePair
	// failure, if set, is decided before any call (the role is not
	// asserted, no group maps to a role...).
	failure *failure
}

// failure is why an exchange did not give credentials: a code for the
// record and the audit log, and a sentence for the person and the Owner.
type failure struct {
	code, message string
	// transient: the cloud did not answer (or answered 5xx); credentials
	// still valid from an earlier sign-in are kept.
	transient bool
	err       error
}

// payload is what a person's sealed credential holds.
type payload struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expires         time.Time `json:"expires"`
	RoleARN         string    `json:"role_arn"`
}

// personAD is the associated data of a person's sealed credential: it
// binds the value to its row, so it cannot be copied to another person,
// organization or role.
func personAD(orgID, userID int64, key string) []byte {
	return []byte("glossa.federation.person-credential:" + strconv.FormatInt(orgID, 10) + ":" + strconv.FormatInt(userID, 10) + ":" + key)
}

// samlKey is the key of a saml_federated storage's credentials: its role
// ARN (storages naming one role share them), or, when it names none, its
// SAML provider (the person's role is whichever their assertion carries
// for that provider).
func samlKey(s *glossa.Storage) string {
	if s.RoleARN != "" {
		return s.RoleARN
	}
	return "provider:" + s.PrincipalARN
}

// brokerKey is the key of a broker storage's credentials: per storage,
// since the session policy is the storage's own.
func brokerKey(s *glossa.Storage) string { return "storage/" + strconv.FormatInt(s.ID, 10) }

// AfterSSO is the SAML ACS's post-sign-in hook (web.SSOHook): for each role
// that the organization's saml_federated and broker storages need, it
// obtains the person's credentials, all in parallel and within
// ExchangeTimeout, and stores them sealed (or the reason it could not) so
// that Credentials finds them later. samlResponse is the base64 response
// as posted to the ACS; it is handed to STS and never stored or logged.
// Each exchange is audited as "federation.exchange".
//
// Its error is logged by the caller and never fails the sign-in; it says
// which exchanges failed (their reasons are also recorded per storage)
// or what could not be read or saved.
//
// Security-sensitive: it holds a bearer credential (the SAML response).
func (b *Broker) AfterSSO(ctx context.Context, m *glossa.Member, id *glossa.SAMLIdentity, samlResponse string) error {
	if b.Store == nil || b.Sealer == nil {
		return errors.New("federation: Broker.Store and Broker.Sealer are required")
	}
	storages, err := b.Store.FindStorages(ctx, glossa.StorageFilter{OrgID: m.OrgID})
	if err != nil {
		return fmt.Errorf("federation: list storages: %w", err)
	}
	exchanges := b.plan(m, id, storages)
	if len(exchanges) == 0 {
		return nil
	}

	// The exchanges share one budget; the records after them do not, so
	// that a timed-out exchange is still recorded.
	xctx, cancel := context.WithTimeout(ctx, b.exchangeTimeout())
	defer cancel()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), b.exchangeTimeout()+saveTimeout)
	defer scancel()

	errs := make([]error, len(exchanges))
	var wg sync.WaitGroup
	for i, x := range exchanges {
		wg.Go(func() {
			var creds glossa.Credentials
			f := x.failure
			if f == nil {
				creds, f = b.run(xctx, m, id, samlResponse, x)
			}
			errs[i] = b.record(sctx, m, id, x, creds, f)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// plan lists the exchanges a sign-in needs: one per distinct key of the
// organization's per-person storages, in the order of the storages.
func (b *Broker) plan(m *glossa.Member, id *glossa.SAMLIdentity, storages []glossa.Storage) []*exchange {
	var pairs []RolePair
	if id != nil {
		pairs = ParseRolePairs(id.Attributes[AttrRole])
	}
	var out []*exchange
	byKey := make(map[string]*exchange)
	for i := range storages {
		s := &storages[i]
		var key string
		switch s.AuthMode {
		case glossa.AuthSAMLFederated:
			key = samlKey(s)
		case glossa.AuthBroker:
			key = brokerKey(s)
		default:
			continue
		}
		if x := byKey[key]; x != nil {
			x.storages = append(x.storages, s.ID)
			continue
		}
		x := &exchange{key: key, storage: s, storages: []int64{s.ID}, broker: s.AuthMode == glossa.AuthBroker}
		if x.broker {
			x.role, x.failure = brokerRole(s, id)
		} else {
			x.role, x.failure = samlRole(s, pairs)
		}
		byKey[key] = x
		out = append(out, x)
	}
	return out
}

// samlRole chooses the asserted pair a saml_federated storage uses: the
// storage's role (through its provider, if it names one), or the first
// role asserted for its provider.
func samlRole(s *glossa.Storage, pairs []RolePair) (RolePair, *failure) {
	switch {
	case s.RoleARN != "":
		for _, p := range pairs {
			if p.RoleARN == s.RoleARN && (s.PrincipalARN == "" || p.PrincipalARN == s.PrincipalARN) {
				return p, nil
			}
		}
		return RolePair{RoleARN: s.RoleARN, PrincipalARN: s.PrincipalARN}, &failure{code: CodeRoleNotAsserted, message: fmt.Sprintf(
			"Your identity provider did not assert the role %s for you, so Glossa could not get your credentials for it: "+
				"ask your administrator to give you that role in the identity provider (the AWS Role attribute), then sign in again.", s.RoleARN)}
	case s.PrincipalARN != "":
		for _, p := range pairs {
			if p.PrincipalARN == s.PrincipalARN {
				return p, nil
			}
		}
		return RolePair{PrincipalARN: s.PrincipalARN}, &failure{code: CodeRoleNotAsserted, message: fmt.Sprintf(
			"Your identity provider asserted no AWS role of the SAML provider %s for you, so Glossa could not get credentials for this storage: "+
				"ask your administrator to give you a role in the identity provider (the AWS Role attribute), then sign in again.", s.PrincipalARN)}
	}
	return RolePair{}, &failure{code: CodeMisconfigured, message: "This storage names neither a role (role_arn) nor a SAML provider (principal_arn): an Owner must set them."}
}

// brokerRole chooses the role of a broker storage: the first of its
// BrokerRoles whose group the person has.
func brokerRole(s *glossa.Storage, id *glossa.SAMLIdentity) (RolePair, *failure) {
	var groups map[string]bool
	if id != nil {
		groups = make(map[string]bool, len(id.Groups))
		for _, g := range id.Groups {
			groups[g] = true
		}
	}
	for _, gm := range s.BrokerRoles {
		if groups[gm.Group] {
			return RolePair{RoleARN: gm.Name}, nil
		}
	}
	if len(s.BrokerRoles) == 0 {
		return RolePair{}, &failure{code: CodeMisconfigured, message: "This storage maps no identity-provider group to a role (broker_roles): an Owner must add at least one."}
	}
	return RolePair{}, &failure{code: CodeNoBrokerRole, message: "None of your identity-provider groups is mapped to a role for this storage (broker_roles): " +
		"ask your administrator to add you to one of the mapped groups, then sign in again."}
}

// run performs one exchange at STS.
func (b *Broker) run(ctx context.Context, m *glossa.Member, id *glossa.SAMLIdentity, samlResponse string, x *exchange) (glossa.Credentials, *failure) {
	s := x.storage
	duration := int32(glossa.DefaultSessionDuration)
	if s.SessionDuration > 0 {
		duration = int32(s.SessionDuration)
	}
	var call func(duration int32) (*ststypes.Credentials, error)
	if x.broker {
		if b.Principal == nil {
			return glossa.Credentials{}, &failure{code: CodeNoPrincipal, message: noPrincipal().Message}
		}
		name := sessionName(m, id)
		if !sessionNameRE.MatchString(name) {
			return glossa.Credentials{}, &failure{code: CodeNoSessionName, message: "Glossa could not name your cloud session after you (no usable email or NameID)."}
		}
		policy, err := sessionPolicy(x.role.RoleARN, s)
		if err != nil {
			return glossa.Credentials{}, &failure{code: CodeMisconfigured, message: glossa.ErrorMessage(err), err: err}
		}
		in := &sts.AssumeRoleInput{
			RoleArn:         aws.String(x.role.RoleARN),
			RoleSessionName: aws.String(name),
			Policy:          aws.String(policy),
		}
		if s.ExternalID != "" {
			in.ExternalId = aws.String(s.ExternalID)
		}
		// SourceIdentity and the tags are sent whatever the STS: AWS
		// records them (CloudTrail names the person, policies may test
		// aws:PrincipalTag) and needs sts:SetSourceIdentity and
		// sts:TagSession in the trust policy for them; SeaweedFS accepts
		// and ignores them (see seaweed_test.go), so nothing needs to be
		// left out for it.
		in.SourceIdentity = aws.String(name)
		in.Tags = sessionTags(m, id)
		client := b.client(s, true)
		call = func(d int32) (*ststypes.Credentials, error) {
			in.DurationSeconds = aws.Int32(d)
			out, err := client.AssumeRole(ctx, in)
			if err != nil {
				return nil, err
			}
			return out.Credentials, nil
		}
	} else {
		client := b.client(s, false)
		call = func(d int32) (*ststypes.Credentials, error) {
			out, err := client.AssumeRoleWithSAML(ctx, &sts.AssumeRoleWithSAMLInput{
				RoleArn:         aws.String(x.role.RoleARN),
				PrincipalArn:    aws.String(x.role.PrincipalARN),
				SAMLAssertion:   aws.String(samlResponse),
				DurationSeconds: aws.Int32(d),
			})
			if err != nil {
				return nil, err
			}
			return out.Credentials, nil
		}
	}

	c, err := call(duration)
	if err != nil && duration > glossa.DefaultSessionDuration && exceedsMaxSession(err) && ctx.Err() == nil {
		// A duration above the role's MaxSessionDuration is an error,
		// not a clamp (§1); every role allows the default hour, so ask
		// once more for that rather than leave the person without access.
		b.logger().WarnContext(ctx, "federation: session_duration exceeds the role's maximum; retrying with the default",
			"role", x.role.RoleARN, "storage", s.ID, "duration", duration)
		c, err = call(glossa.DefaultSessionDuration)
	}
	if err != nil {
		e := ExplainSTS(err)
		b.logger().WarnContext(ctx, "federation: exchange failed", "role", x.role.RoleARN, "storage", s.ID, "key", x.key, "err", err)
		return glossa.Credentials{}, &failure{code: stsCode(err), message: e.Message, transient: transient(err), err: err}
	}
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return glossa.Credentials{}, &failure{code: "IncompleteCredentials", message: "AWS STS answered without complete credentials; try signing in again.", transient: true}
	}
	creds := glossa.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		Expires:         *c.Expiration,
	}
	// STS already caps a SAML session at the assertion's
	// SessionNotOnOrAfter, but the SP's reading of the IdP session is
	// what Glossa's own session ends at, and broker sessions know nothing
	// of it: the credentials never outlive the sign-in that got them.
	if id != nil && id.SessionNotOnOrAfter != nil && id.SessionNotOnOrAfter.Before(creds.Expires) {
		creds.Expires = *id.SessionNotOnOrAfter
	}
	return creds, nil
}

// record stores the outcome of one exchange and audits it.
func (b *Broker) record(ctx context.Context, m *glossa.Member, id *glossa.SAMLIdentity, x *exchange, creds glossa.Credentials, f *failure) error {
	now := b.now()
	pc := &glossa.PersonCredential{OrgID: m.OrgID, UserID: m.ID, Key: x.key, UpdatedAt: now}
	var saveErr error
	if f == nil {
		pc.Expires = creds.Expires
		plain, err := json.Marshal(payload{
			AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
			Expires: creds.Expires, RoleARN: x.role.RoleARN,
		})
		if err == nil {
			pc.Sealed, err = b.Sealer.Seal(plain, personAD(m.OrgID, m.ID, x.key))
		}
		if err != nil {
			saveErr = fmt.Errorf("seal: %w", err)
		}
	} else {
		pc.ErrorCode, pc.ErrorMessage = f.code, f.message
		pc.Expires = now.Add(FailureLifetime)
		if id != nil && id.SessionNotOnOrAfter != nil && id.SessionNotOnOrAfter.After(now) {
			pc.Expires = *id.SessionNotOnOrAfter
		}
	}
	kept := f != nil && f.transient && b.stillValid(ctx, m, x.key)
	if saveErr == nil && !kept {
		saveErr = b.Store.SavePersonCredential(ctx, pc)
	}
	b.audit(ctx, m, x, pc, f, kept)
	if saveErr != nil {
		return fmt.Errorf("federation: save credentials %s for user %d: %w", x.key, m.ID, saveErr)
	}
	if f != nil {
		if f.err != nil {
			return fmt.Errorf("federation: %s for user %d: %s: %w", x.key, m.ID, f.code, f.err)
		}
		return fmt.Errorf("federation: %s for user %d: %s", x.key, m.ID, f.code)
	}
	return nil
}

// stillValid reports whether the person already has usable credentials
// under key. A transient failure (STS down) does not replace them: the
// earlier sign-in's credentials are as good as they were. A refusal does,
// since it may mean the person lost the role.
func (b *Broker) stillValid(ctx context.Context, m *glossa.Member, key string) bool {
	old, err := b.Store.FindPersonCredential(ctx, m.OrgID, m.ID, key)
	return err == nil && old.ErrorCode == "" && len(old.Sealed) > 0 && old.Expires.After(b.now().Add(ExpiryMargin))
}

// audit records one exchange. A failure to record is logged, not
// returned: the exchange itself is done.
// kept says that the failure did not replace valid earlier credentials.
func (b *Broker) audit(ctx context.Context, m *glossa.Member, x *exchange, pc *glossa.PersonCredential, f *failure, kept bool) {
	if b.Audit == nil {
		return
	}
	mode := glossa.AuthSAMLFederated
	if x.broker {
		mode = glossa.AuthBroker
	}
	e := &glossa.AuditEvent{
		OrgID:      m.OrgID,
		At:         b.now(),
		ActorID:    m.ID,
		ActorEmail: m.Email,
		Action:     "federation.exchange",
		Outcome:    glossa.OutcomeSuccess,
		TargetType: "role",
		TargetID:   x.role.RoleARN,
		RequestID:  glossa.RequestIDFromContext(ctx),
		Detail: map[string]any{
			"storages": x.storages,
			"key":      x.key,
			"mode":     string(mode),
			"expires":  pc.Expires,
		},
	}
	if x.role.PrincipalARN != "" {
		e.Detail["provider"] = x.role.PrincipalARN
	}
	if f != nil {
		e.Outcome = glossa.OutcomeFailure
		e.Reason = f.code
		e.Detail["message"] = f.message
		if kept {
			e.Detail["kept_previous"] = true
			delete(e.Detail, "expires")
		}
	}
	if err := b.Audit.AppendAudit(ctx, e); err != nil {
		b.logger().ErrorContext(ctx, "federation: audit", "user", m.ID, "key", x.key, "err", err)
	}
}
