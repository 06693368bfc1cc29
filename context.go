package glossa

import "context"

// Principal is who acts in a request: a member of one organization, signed
// in by session or by token, with their access loaded for permission checks.
type Principal struct {
	OrgID   int64
	OrgSlug string
	UserID  int64
	Email   string
	Role    Role
	Access  Access
	// Method says how the request authenticated: "session" or "token".
	Method string
	// SessionMethod says how a session signed in ("password", "saml"); empty for tokens.
	SessionMethod string
}

type principalKey struct{}

// NewContextWithPrincipal returns a copy of ctx that carries p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal of the request, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

type requestIDKey struct{}

// NewContextWithRequestID returns a copy of ctx that carries the request ID.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request ID, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
