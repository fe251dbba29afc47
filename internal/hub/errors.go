package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
)

// Errors callers branch on; the errors returned wrap them (errors.Is) and carry the details.
var (
	// ErrNotCached: the cache has no complete snapshot for the repo and revision.
	ErrNotCached = errors.New("not in the Hugging Face cache")
	// ErrOffline: HF_HUB_OFFLINE is set and the cache cannot answer.
	ErrOffline = errors.New("offline mode (HF_HUB_OFFLINE)")
	// ErrRepoNotFound: the hub has no such repo (or hides a private one from this token).
	ErrRepoNotFound = errors.New("repo not found")
	// ErrRevisionNotFound: the repo has no such branch, tag or commit.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrFileNotFound: the repo exists but not the file.
	ErrFileNotFound = errors.New("file not found")
	// ErrAccessDenied: 401 or 403: a private or gated repo without a token that may read it.
	ErrAccessDenied = errors.New("access denied")
	// ErrChecksum: a downloaded file does not match the sha256 the hub announced; it was deleted.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrDiskFull: the disk holding the cache filled up.
	ErrDiskFull = errors.New("disk full")
	// ErrNetwork: the hub could not be reached (DNS, refused or dropped connections).
	ErrNetwork = errors.New("network error")
)

// StatusError is an HTTP error answered by the hub, with the hub's own error code and message.
type StatusError struct {
	Status    int    // HTTP status
	Code      string // X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ...
	Message   string // X-Error-Message
	Endpoint  string
	Repo      string
	Revision  string
	File      string
	TokenSent bool
}

// Is makes errors.Is(err, ErrRepoNotFound) and its siblings work on a StatusError.
func (e *StatusError) Is(target error) bool {
	return target == e.kind()
}

func (e *StatusError) kind() error {
	switch {
	case e.Code == "RevisionNotFound":
		return ErrRevisionNotFound
	case e.Code == "EntryNotFound":
		return ErrFileNotFound
	case e.Code == "GatedRepo" || e.Status == http.StatusForbidden:
		return ErrAccessDenied
	case e.Code == "RepoNotFound" && e.Status == http.StatusNotFound:
		return ErrRepoNotFound
	case e.Status == http.StatusUnauthorized:
		// The hub answers 401 both for a repo that does not exist and for a private or gated one
		// when the request has no token that may read it: it does not say which.
		return ErrAccessDenied
	case e.Status == http.StatusNotFound && e.File == "":
		return ErrRepoNotFound
	case e.Status == http.StatusNotFound:
		return ErrFileNotFound
	}
	return nil
}

func (e *StatusError) Error() string {
	where := e.Repo
	if e.Revision != "" && e.Revision != DefaultRevision {
		where += "@" + e.Revision
	}
	status := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	token := "set HF_TOKEN to an access token that may read it (" + e.Endpoint + "/settings/tokens)"
	if e.TokenSent {
		token = "the token in HF_TOKEN may not read it"
	}
	switch e.kind() {
	case ErrRevisionNotFound:
		return fmt.Sprintf("%s: revision %q not found (%s)", e.Repo, e.Revision, status)
	case ErrFileNotFound:
		return fmt.Sprintf("%s: %s not found in the repo (%s)", where, e.File, status)
	case ErrRepoNotFound:
		return fmt.Sprintf("%s: repo not found on %s (%s)", e.Repo, e.Endpoint, status)
	case ErrAccessDenied:
		switch {
		case e.Message == "Invalid credentials in Authorization header":
			return fmt.Sprintf("%s: the hub refused the token in HF_TOKEN as invalid (%s): create a new one at %s/settings/tokens", e.Repo, status, e.Endpoint)
		case e.Code == "GatedRepo" && e.TokenSent:
			return fmt.Sprintf("%s: gated repo (%s): accept its conditions at %s/%s, logged in as the owner of the token in HF_TOKEN", e.Repo, status, e.Endpoint, e.Repo)
		case e.Code == "GatedRepo":
			return fmt.Sprintf("%s: gated repo (%s): accept its conditions at %s/%s while logged in, then %s", e.Repo, status, e.Endpoint, e.Repo, token)
		case e.Status == http.StatusForbidden:
			return fmt.Sprintf("%s: access forbidden (%s): %s", e.Repo, status, token)
		}
		return fmt.Sprintf("%s: repo not found, or private or gated (%s): check the name, or %s", e.Repo, status, token)
	}
	msg := fmt.Sprintf("%s: %s from %s", where, status, e.Endpoint)
	if e.File != "" {
		msg = fmt.Sprintf("%s: %s: %s from %s", where, e.File, status, e.Endpoint)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// temporary reports a server-side failure worth retrying.
func (e *StatusError) temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// networkError explains a failed request: DNS, refused connection, or a connection lost midway.
func networkError(rawURL string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	host := rawURL
	if u, perr := url.Parse(rawURL); perr == nil {
		host = u.Host
	}
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("%w: cannot resolve %s (%v): check the network connection or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache", ErrNetwork, dns.Name, dns.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: %s refused the connection: check HF_ENDPOINT and proxy settings, or set HF_HUB_OFFLINE=1 to use only the cache", ErrNetwork, host)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: connection to %s lost: %v", ErrNetwork, host, err)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return fmt.Errorf("%w: %s timed out: %v", ErrNetwork, host, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrNetwork, host, err)
}
