package saml

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/glossa-dev/glossa"
)

// MetadataFetcher downloads IdP metadata from the URL an Owner gave.
//
// Security-sensitive: the URL is chosen by a tenant, so the fetch refuses
// private, loopback and link-local addresses (checked on the address
// actually dialled, after DNS, so a name cannot point inside), plain HTTP
// and redirects to either, unless AllowPrivate is set (tests, and
// deployments whose IdP is on an internal network).
type MetadataFetcher struct {
	// AllowPrivate permits private and loopback addresses and plain HTTP.
	AllowPrivate bool
	// Timeout bounds one fetch (default 10 s).
	Timeout time.Duration
}

// maxMetadataBytes bounds downloaded metadata.
const maxMetadataBytes = 1 << 20

// Fetch downloads metadata and checks that it parses as one IdP's
// metadata (against pinnedCertPEM when set). Errors are safe to show to
// the Owner who gave the URL.
func (f *MetadataFetcher) Fetch(ctx context.Context, rawURL, pinnedCertPEM string) ([]byte, *IdPMetadata, error) {
	if err := f.checkURL(rawURL); err != nil {
		return nil, nil, err
	}
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); ip == nil || (!f.AllowPrivate && !publicIP(ip)) {
			return errPrivateAddress
		}
		return nil
	}}
	client := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil, TLSHandshakeTimeout: timeout},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return f.checkURL(req.URL.String())
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, glossa.Errorf(glossa.EINVALID, "The metadata URL is not a valid URL.")
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, errPrivateAddress) {
			return nil, nil, glossa.Errorf(glossa.EINVALID, "The metadata URL points to a private or internal address, which Glossa does not fetch from.")
		}
		return nil, nil, glossa.Wrap(glossa.EINVALID, err, "The metadata URL could not be fetched (no answer, TLS or DNS failure). Check it opens from the Glossa server.")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, glossa.Errorf(glossa.EINVALID, "The metadata URL answered HTTP %d instead of the metadata.", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, nil, glossa.Wrap(glossa.EINVALID, err, "The metadata download broke off; try again.")
	}
	if len(body) > maxMetadataBytes {
		return nil, nil, glossa.Errorf(glossa.ETOOLARGE, "The metadata at that URL is larger than 1 MiB.")
	}
	md, err := ParseIdPMetadata(body, pinnedCertPEM)
	if err != nil {
		return nil, nil, err
	}
	return body, md, nil
}

var errPrivateAddress = errors.New("saml: metadata URL resolves to a non-public address")

func (f *MetadataFetcher) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return glossa.Errorf(glossa.EINVALID, "The metadata URL is not a valid URL.")
	}
	if u.Scheme != "https" && !(f.AllowPrivate && u.Scheme == "http") {
		return glossa.Errorf(glossa.EINVALID, "The metadata URL must use https://.")
	}
	return nil
}

// publicIP reports whether ip is a public unicast address.
func publicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

// Refresh timing of fetched metadata.
const (
	DefaultMetadataRefresh = 24 * time.Hour
	MinMetadataRefresh     = 5 * time.Minute
)

// NextMetadataRefresh says when metadata fetched at fetchedAt should be
// fetched again: after its cacheDuration (default a day), and in any case
// before its validUntil; never sooner than five minutes.
func NextMetadataRefresh(md *IdPMetadata, fetchedAt time.Time) time.Time {
	next := fetchedAt.Add(DefaultMetadataRefresh)
	if md != nil && md.CacheDuration > 0 {
		next = fetchedAt.Add(md.CacheDuration)
	}
	if md != nil && !md.ValidUntil.IsZero() {
		if half := fetchedAt.Add(md.ValidUntil.Sub(fetchedAt) / 2); half.Before(next) {
			next = half
		}
	}
	if min := fetchedAt.Add(MinMetadataRefresh); next.Before(min) {
		next = min
	}
	return next
}
