package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/glossa-dev/glossa"
)

// maxOpened bounds the in-memory cache of unsealed per-person credentials,
// and maxRoleSessions that of assume_role sessions.
const (
	maxOpened       = 10_000
	maxRoleSessions = 1_000
)

// personKey identifies one stored person credential; with Expires in it,
// a fresh sign-in (new credentials, new expiry) misses the cache.
type personKey struct {
	orgID, userID int64
	key           string
	expires       int64 // Unix nanoseconds
}

// openedCred is an unsealed person credential and the sealed bytes it was
// opened from (compared on every hit, so that a record rewritten with the
// same expiry is never answered from a stale entry).
type openedCred struct {
	sealed []byte
	creds  glossa.Credentials
	role   string
}

// reauth is the error of missing or expired per-person credentials: the
// person gets new ones by signing in again (the web layer sends a browser
// through the IdP and back).
func reauth(expired bool) *glossa.Error {
	if expired {
		return glossa.Errorf(glossa.EREAUTH, "Your cloud credentials for this storage have expired; sign in again through your identity provider.")
	}
	return glossa.Errorf(glossa.EREAUTH, "Glossa has no cloud credentials of yours for this storage yet; sign in through your identity provider to get them.")
}

// Credentials returns the credentials that s is read and written with on
// behalf of userID (it implements connector/s3.CredentialSource):
//
//   - static: the storage's key, its secret unsealed;
//   - assume_role: a session of s.RoleARN assumed by Glossa's principal,
//     kept in memory and renewed RenewMargin before it expires;
//   - saml_federated, broker: the person's own, as AfterSSO stored them;
//     none, or expired (ExpiryMargin early), is glossa.EREAUTH; a failed
//     exchange is glossa.EFORBIDDEN with the recorded reason. No call to
//     the cloud is made: one store lookup, and the unsealed credentials
//     are cached in memory.
func (b *Broker) Credentials(ctx context.Context, s *glossa.Storage, userID int64) (glossa.Credentials, error) {
	switch s.AuthMode {
	case glossa.AuthStatic:
		return b.static(s)
	case glossa.AuthAssumeRole:
		return b.assumeRole(ctx, s)
	case glossa.AuthSAMLFederated, glossa.AuthBroker:
		oc, err := b.person(ctx, s, userID)
		if err != nil {
			return glossa.Credentials{}, err
		}
		return oc.creds, nil
	}
	return glossa.Credentials{}, unknownMode(s)
}

// CheckAccess says, without calling the cloud, whether userID has usable
// credentials for s: nil, or an EREAUTH or EFORBIDDEN error whose message
// says why and what to do.
func (b *Broker) CheckAccess(ctx context.Context, s *glossa.Storage, userID int64) error {
	switch s.AuthMode {
	case glossa.AuthStatic:
		_, err := b.static(s)
		return err
	case glossa.AuthAssumeRole:
		if b.Principal == nil {
			return noPrincipal()
		}
		if s.RoleARN == "" {
			return glossa.Errorf(glossa.EFORBIDDEN, "This storage names no role to assume (role_arn): an Owner must set it.")
		}
		return nil
	case glossa.AuthSAMLFederated, glossa.AuthBroker:
		_, err := b.person(ctx, s, userID)
		return err
	}
	return unknownMode(s)
}

// RoleARN names the role that userID's credentials for s stand for (it
// implements connector/s3.RoleNamer): in the per-person modes the role the
// exchange got (in broker mode it depends on the person's groups; with a
// provider-only saml_federated storage, on their assertion), else
// s.RoleARN.
func (b *Broker) RoleARN(ctx context.Context, s *glossa.Storage, userID int64) string {
	if s.AuthMode.PerPerson() {
		if oc, err := b.person(ctx, s, userID); err == nil && oc.role != "" {
			return oc.role
		}
	}
	return s.RoleARN
}

func unknownMode(s *glossa.Storage) *glossa.Error {
	return glossa.Errorf(glossa.EFORBIDDEN, "This storage's credential mode %q is not one Glossa knows: an Owner must choose static, assume_role, saml_federated or broker.", s.AuthMode)
}

// personKeyOf is the key of userID's credentials for a per-person storage.
func personKeyOf(s *glossa.Storage) (string, error) {
	if s.AuthMode == glossa.AuthBroker {
		return brokerKey(s), nil
	}
	if s.RoleARN == "" && s.PrincipalARN == "" {
		// Not EREAUTH: signing in again would not help, and would loop.
		return "", glossa.Errorf(glossa.EFORBIDDEN, "This storage names neither a role (role_arn) nor a SAML provider (principal_arn): an Owner must set them.")
	}
	return samlKey(s), nil
}

// person finds, checks and unseals userID's credentials for s.
//
// Security-sensitive: it hands out a person's cloud credentials.
func (b *Broker) person(ctx context.Context, s *glossa.Storage, userID int64) (*openedCred, error) {
	b.setup()
	key, err := personKeyOf(s)
	if err != nil {
		return nil, err
	}
	pc, err := b.Store.FindPersonCredential(ctx, s.OrgID, userID, key)
	if glossa.ErrorCode(err) == glossa.ENOTFOUND {
		return nil, reauth(false)
	}
	if err != nil {
		return nil, err
	}
	now := b.now()
	if pc.ErrorCode != "" {
		if now.Before(pc.Expires) {
			msg := pc.ErrorMessage
			if msg == "" {
				msg = "Glossa could not get your cloud credentials for this storage when you signed in; sign in again, and ask your administrator if it keeps failing."
			}
			return nil, glossa.Errorf(glossa.EFORBIDDEN, "%s", msg)
		}
		// The failure is old; a new sign-in may well succeed.
		return nil, reauth(true)
	}
	if (glossa.Credentials{Expires: pc.Expires}).Expired(now, ExpiryMargin) || pc.Expires.IsZero() {
		return nil, reauth(true)
	}

	pk := personKey{s.OrgID, userID, key, pc.Expires.UnixNano()}
	b.mu.Lock()
	oc := b.opened[pk]
	b.mu.Unlock()
	if oc != nil && bytes.Equal(oc.sealed, pc.Sealed) {
		return oc, nil
	}

	plain, err := b.Sealer.Open(pc.Sealed, personAD(s.OrgID, userID, key))
	var p payload
	if err == nil {
		err = json.Unmarshal(plain, &p)
	}
	if err != nil {
		// Not EREAUTH: were the master key wrong on this process, every
		// sign-in would be sent round again.
		b.logger().ErrorContext(ctx, "federation: cannot open a stored person credential", "org", s.OrgID, "user", userID, "key", key, "err", err)
		return nil, glossa.Wrap(glossa.EFORBIDDEN, err, "Glossa could not read your stored cloud credentials (the server's master key may have changed): "+
			"sign in again through your identity provider, and tell your administrator if this keeps happening.")
	}
	oc = &openedCred{
		sealed: bytes.Clone(pc.Sealed),
		creds:  glossa.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken, Expires: pc.Expires},
		role:   p.RoleARN,
	}
	b.mu.Lock()
	if len(b.opened) >= maxOpened {
		for k := range b.opened {
			if now.Add(ExpiryMargin).UnixNano() >= k.expires || len(b.opened) >= maxOpened {
				delete(b.opened, k) // expired first; then any (map order is random)
			}
		}
	}
	b.opened[pk] = oc
	b.mu.Unlock()
	return oc, nil
}

// staticSecret is the sealed part of a static storage's key.
type staticSecret struct {
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token,omitempty"`
}

// staticAD binds a storage's sealed secret to its organization: a value
// copied into another organization's storage does not open. (The storage
// ID is not known yet when a new storage's secret is sealed.)
func staticAD(orgID int64) []byte {
	return []byte("glossa.federation.storage-secret:" + strconv.FormatInt(orgID, 10))
}

// SealStaticSecret seals a static storage's secret access key and session
// token into s.SealedSecret, bound to s.OrgID.
//
// Security-sensitive: the secret is never stored or shown in the clear.
func (b *Broker) SealStaticSecret(s *glossa.Storage, secretKey, sessionToken string) error {
	if b.Sealer == nil {
		return errors.New("federation: Broker.Sealer is required")
	}
	if s.OrgID == 0 {
		return errors.New("federation: SealStaticSecret: the storage has no organization")
	}
	plain, err := json.Marshal(staticSecret{SecretAccessKey: secretKey, SessionToken: sessionToken})
	if err != nil {
		return err
	}
	sealed, err := b.Sealer.Seal(plain, staticAD(s.OrgID))
	if err != nil {
		return fmt.Errorf("federation: seal: %w", err)
	}
	s.SealedSecret = sealed
	return nil
}

// static unseals a static storage's key.
func (b *Broker) static(s *glossa.Storage) (glossa.Credentials, error) {
	if s.AccessKeyID == "" || len(s.SealedSecret) == 0 {
		return glossa.Credentials{}, glossa.Errorf(glossa.EFORBIDDEN, "This storage has no access key: an Owner must enter aws_access_key_id and aws_secret_access_key.")
	}
	if b.Sealer == nil {
		return glossa.Credentials{}, glossa.Errorf(glossa.EINTERNAL, "federation: Broker.Sealer is required")
	}
	plain, err := b.Sealer.Open(s.SealedSecret, staticAD(s.OrgID))
	var sec staticSecret
	if err == nil {
		err = json.Unmarshal(plain, &sec)
	}
	if err != nil {
		return glossa.Credentials{}, glossa.Wrap(glossa.EFORBIDDEN, err, "This storage's secret access key cannot be read on this server "+
			"(it was sealed for another organization or under another master key): an Owner must enter it again.")
	}
	return glossa.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: sec.SecretAccessKey, SessionToken: sec.SessionToken}, nil
}

// roleKey identifies an assume_role session: changing any of the
// storage's settings that shape it gives a new one.
type roleKey struct {
	storageID                          int64
	role, externalID, endpoint, region string
	duration                           int
}

// roleSession is an assume_role session and the call renewing it, if one
// is under way (so that concurrent requests wait for one call rather than
// each making their own). Both are guarded by Broker.mu.
type roleSession struct {
	creds  glossa.Credentials
	flight *flight
}

type flight struct {
	done  chan struct{}
	creds glossa.Credentials
	err   error
}

// assumeRoleTimeout bounds one assume_role call to STS.
const assumeRoleTimeout = 30 * time.Second

// assumeRole returns the cached session of s's role, assuming it as
// Glossa's principal when there is none or it expires within RenewMargin.
func (b *Broker) assumeRole(ctx context.Context, s *glossa.Storage) (glossa.Credentials, error) {
	if b.Principal == nil {
		return glossa.Credentials{}, noPrincipal()
	}
	if s.RoleARN == "" {
		return glossa.Credentials{}, glossa.Errorf(glossa.EFORBIDDEN, "This storage names no role to assume (role_arn): an Owner must set it.")
	}
	b.setup()
	k := roleKey{s.ID, s.RoleARN, s.ExternalID, b.stsEndpoint(s), s.Region(), s.SessionDuration}
	now := b.now()
	b.mu.Lock()
	rs := b.roles[k]
	if rs == nil {
		if len(b.roles) >= maxRoleSessions {
			for rk, r := range b.roles {
				if r.flight == nil && !now.Add(RenewMargin).Before(r.creds.Expires) {
					delete(b.roles, rk)
				}
			}
		}
		rs = &roleSession{}
		b.roles[k] = rs
	}
	if rs.creds.AccessKeyID != "" && now.Add(RenewMargin).Before(rs.creds.Expires) {
		c := rs.creds
		b.mu.Unlock()
		return c, nil
	}
	f := rs.flight
	if f == nil {
		// One call for every caller, not bound to the context of the
		// first: its going away must not fail the others.
		f = &flight{done: make(chan struct{})}
		rs.flight = f
		sc := *s
		go func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), assumeRoleTimeout)
			defer cancel()
			c, err := b.callAssumeRole(cctx, &sc)
			b.mu.Lock()
			if err == nil {
				rs.creds = c
			}
			f.creds, f.err = c, err
			rs.flight = nil
			b.mu.Unlock()
			close(f.done)
		}()
	}
	b.mu.Unlock()
	select {
	case <-f.done:
		// The flight's own answer, even if it is already close to
		// expiry: asking again would loop.
		return f.creds, f.err
	case <-ctx.Done():
		return glossa.Credentials{}, ExplainSTS(ctx.Err())
	}
}

// callAssumeRole assumes s's role as Glossa's principal, for the storage
// as a whole (the session is named after the storage, not a person).
func (b *Broker) callAssumeRole(ctx context.Context, s *glossa.Storage) (glossa.Credentials, error) {
	duration := int32(glossa.DefaultSessionDuration)
	if s.SessionDuration > 0 {
		duration = int32(s.SessionDuration)
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(s.RoleARN),
		RoleSessionName: aws.String("glossa-storage-" + strconv.FormatInt(s.ID, 10)),
		DurationSeconds: aws.Int32(duration),
	}
	if s.ExternalID != "" {
		in.ExternalId = aws.String(s.ExternalID)
	}
	client := b.client(s, true)
	out, err := client.AssumeRole(ctx, in)
	if err != nil && duration > glossa.DefaultSessionDuration && exceedsMaxSession(err) {
		in.DurationSeconds = aws.Int32(glossa.DefaultSessionDuration) // as in AfterSSO
		out, err = client.AssumeRole(ctx, in)
	}
	if err != nil {
		b.logger().WarnContext(ctx, "federation: AssumeRole failed", "role", s.RoleARN, "storage", s.ID, "err", err)
		return glossa.Credentials{}, ExplainSTS(err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return glossa.Credentials{}, glossa.Errorf(glossa.EUNAVAILABLE, "AWS STS answered without complete credentials; try again.")
	}
	return glossa.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken, Expires: *c.Expiration}, nil
}
