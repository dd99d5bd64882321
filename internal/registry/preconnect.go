package registry

import (
	"net/http"

	"github.com/imagesync/imagesync/internal/imageref"
)

// preconnectPerHost is how many connections Preconnect dials to a host:
// one for the ping, one for the first request after it; the host's first
// answer, if it comes from far away, has more dialled (sizeToLink).
const preconnectPerHost = 2

// Preconnect dials connections ahead to the registry each reference is
// read from first (its first mirror, else the registry itself), sending
// nothing on them: no request, no pull. An apply calls it for the sources
// of its images while it asks the target what has changed, so that the
// copies that follow do not start with a round trip (two with TLS) of
// handshake per connection on a far source. A connection not taken within
// warmMaxAge is closed; a reference without an endpoint is skipped (the
// copy reports it).
func (c *Client) Preconnect(refs []imageref.Ref) {
	seen := map[string]bool{}
	for _, ref := range refs {
		eps, err := c.Endpoints(ref)
		if err != nil || len(eps) == 0 {
			continue
		}
		ep := eps[0]
		key := ep.Repo.RegistryStr()
		if seen[key] {
			continue
		}
		seen[key] = true
		h, err := c.host(ep)
		if err != nil || h.warm == nil {
			continue
		}
		req, err := http.NewRequest(http.MethodGet, ep.Repo.Scheme()+"://"+key+"/v2/", nil)
		if err != nil {
			continue
		}
		h.warm.warmUpTo(req, preconnectPerHost)
	}
}
