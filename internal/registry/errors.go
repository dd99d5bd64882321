package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// AuthError is a registry refusing a request for want of valid credentials
// (401) or of permission (403). It names the registry host and where
// credentials are read from; it never holds the credentials themselves.
// It is an answer, not a fault: nothing retries it.
type AuthError struct {
	// Host is the registry (or mirror) host that refused, "127.0.0.1:5000".
	Host string
	// Status is 401 or 403.
	Status int
	// Anonymous is true when no credentials for Host were found, so the
	// request went without any.
	Anonymous bool
	// Detail is the registry's own message, if it sent one.
	Detail string
}

// Error implements error.
func (e *AuthError) Error() string {
	var b strings.Builder
	switch {
	case e.Status == http.StatusForbidden:
		fmt.Fprintf(&b, "access to %s denied (403 Forbidden", e.Host)
	case e.Anonymous:
		fmt.Fprintf(&b, "authentication to %s failed: it requires a login and no credentials for %s were found (401 Unauthorized", e.Host, e.Host)
	default:
		fmt.Fprintf(&b, "authentication to %s failed: it refused the credentials (401 Unauthorized", e.Host)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	b.WriteString("); ")
	switch {
	case e.Status == http.StatusForbidden:
		fmt.Fprintf(&b, "the credentials for %s in %s are valid but lack the permission", e.Host, credentialSource())
	case e.Anonymous:
		fmt.Fprintf(&b, "add credentials for %s to %s (docker login %s) or name a credential helper there", e.Host, credentialSource(), e.Host)
	default:
		fmt.Fprintf(&b, "check the credentials for %s in %s and its credential helpers", e.Host, credentialSource())
	}
	return b.String()
}

// credentialSource names the docker config file credentials are read
// from, as the keychain finds it: DOCKER_CONFIG, else ~/.docker; podman's
// auth files (DefaultKeychain) are read before it.
func credentialSource() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return "DOCKER_CONFIG (" + filepath.Join(dir, "config.json") + ")"
	}
	return "~/.docker/config.json (or DOCKER_CONFIG, or podman's auth.json)"
}

// authError turns a registry's 401 or 403 answer into an *AuthError, and
// returns nil for anything else.
func authError(host string, anonymous bool, err error) *AuthError {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return nil
	}
	if terr.StatusCode != http.StatusUnauthorized && terr.StatusCode != http.StatusForbidden {
		return nil
	}
	e := &AuthError{Host: host, Status: terr.StatusCode, Anonymous: anonymous}
	for _, d := range terr.Errors {
		if d.Message != "" {
			e.Detail = string(d.Code) + ": " + d.Message
			break
		}
	}
	return e
}

// StatusError is a registry's overload or server error answer (429, 5xx)
// that outlived the retries. Its message ends with the status and the
// number of tries, which the registry's own error body may not name.
type StatusError struct {
	Status   string // "503 Service Unavailable"
	Attempts int    // tries made, 0 when not known
	Err      error  // go-containerregistry's *transport.Error
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := e.Err.Error()
	switch {
	case e.Attempts > 1:
		return fmt.Sprintf("%s (%s after %d attempts)", msg, e.Status, e.Attempts)
	case strings.Contains(msg, e.Status):
		return msg
	}
	return fmt.Sprintf("%s (%s)", msg, e.Status)
}

// Unwrap returns the registry's error.
func (e *StatusError) Unwrap() error { return e.Err }

// withStatus wraps the error CheckError made of resp in a *StatusError when
// resp is an overload or server error answer.
func withStatus(resp *http.Response, err error) error {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
		return err
	}
	attempts, _ := strconv.Atoi(resp.Header.Get(AttemptsHeader))
	return &StatusError{Status: resp.Status, Attempts: attempts, Err: err}
}

// checkStatus is transport.CheckError (an error for a status outside ok,
// with the registry's error codes) without the query of the request's URL
// in its message: go-containerregistry redacts some parameters only, and
// an upload's location carries the session's state.
func checkStatus(resp *http.Response, ok ...int) error {
	err := transport.CheckError(resp, ok...)
	var te *transport.Error
	if errors.As(err, &te) && te.Request != nil && te.Request.URL != nil && te.Request.URL.RawQuery != "" {
		req := *te.Request
		u := *req.URL
		u.RawQuery, u.ForceQuery = "", false
		req.URL = &u
		te.Request = &req
	}
	return err
}

// TLSError is a registry whose certificate could not be verified, or one
// that speaks plain HTTP where HTTPS was expected. Its message says which
// images.hcl settings change that.
type TLSError struct {
	Host  string // the endpoint host
	Block string // the registry block of images.hcl that configures it
	Err   error
}

// Error implements error.
func (e *TLSError) Error() string {
	if isPlainHTTP(e.Err) {
		return fmt.Sprintf("%s does not speak HTTPS (%v): set insecure = true in the registry %q block of images.hcl to use plain HTTP",
			e.Host, e.Err, e.Block)
	}
	return fmt.Sprintf("TLS certificate of %s is not trusted (%v): set ca_file = \"<the CA certificate, PEM>\" in the registry %q block of images.hcl to trust its CA, or insecure = true to skip verification",
		e.Host, e.Err, e.Block)
}

// Unwrap returns the TLS error.
func (e *TLSError) Unwrap() error { return e.Err }

// tlsError wraps a certificate verification failure, or an HTTPS request
// answered in plain HTTP, in a *TLSError; it returns nil for other errors.
func tlsError(ep Endpoint, err error) error {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
		terr *TLSError
	)
	switch {
	case err == nil, errors.As(err, &terr):
		return nil
	case errors.As(err, &verr), errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &ierr), isPlainHTTP(err):
		return &TLSError{Host: ep.Repo.RegistryStr(), Block: ep.block, Err: err}
	}
	return nil
}

func isPlainHTTP(err error) bool {
	var rerr tls.RecordHeaderError
	return errors.As(err, &rerr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// explain turns what a request to ep failed with into the error imagesync
// reports: a refused login into an *AuthError, a certificate problem into
// a *TLSError, and any URL printed without its query (upload locations
// carry the registry's session state there).
func explain(ep Endpoint, anonymous bool, err error) error {
	if err == nil {
		return nil
	}
	if aerr := authError(ep.Repo.RegistryStr(), anonymous, err); aerr != nil {
		return aerr
	}
	err = redactURLError(err)
	if terr := tlsError(ep, err); terr != nil {
		return terr
	}
	return err
}

// redactURLError returns err with the URL of a top-level *url.Error (what
// http.Client returns) stripped of its query, user info and fragment.
func redactURLError(err error) error {
	ue, ok := err.(*url.Error) //nolint:errorlint // only the top level, what http.Client returns, is rewritten
	if !ok {
		return err
	}
	var aerr *attemptsError
	var werr *WaitTooLongError
	if errors.As(ue.Err, &aerr) || errors.As(ue.Err, &werr) {
		return ue.Err // it names the method, host and path already, and no query
	}
	c := *ue
	c.URL = redactURL(ue.URL)
	return &c
}

// redactURL is a URL as it may be shown: without query, user info and
// fragment.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.User, u.Fragment, u.RawFragment = "", false, nil, "", ""
	return u.String()
}
