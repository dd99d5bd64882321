package main

import (
	"strings"

	"github.com/imagesync/imagesync/bench/wanproxy"
)

// WAN mode: every tool reaches the source and the target registry through
// a wanproxy.Proxy on one simulated link (round trip, shared bandwidth);
// the bench's own work (seeding the source, checking the target, reading
// access logs) goes straight to the registries.

// wanScenarios are the scenarios of a WAN run unless -scenarios says
// otherwise: the big layer is a loopback figure (peak RSS), and at
// 200 Mbit/s it would take a minute per run.
const wanScenarios = "cold,noop,changed,scale"

// setWAN parses the link and sizes the sets for it: the cold set a fifth
// of the loopback one (about 90 MiB, the figures), the scale sets
// small enough that the peers, which check one image at a time, finish.
func (b *bench) setWAN(spec string, defaultScenarios bool, scenarios *string) error {
	link, err := wanproxy.ParseLink(spec)
	if err != nil {
		return err
	}
	b.link = link
	b.meta.WAN, b.meta.WANRTT, b.meta.WANMbit = link.String(), link.RTT(), link.Mbit()
	if defaultScenarios {
		*scenarios = wanScenarios
	}
	if !b.quick {
		b.sizeDiv = 5
	}
	b.scaleN, b.scaleCold = min(b.scaleN, 200), min(b.scaleCold, 50)
	return nil
}

func (b *bench) wan() bool { return b.link != nil }

func (b *bench) startProxies() error {
	if b.link == nil {
		return nil
	}
	var err error
	if b.srcProxy, err = b.link.Start("source", b.src.Host()); err != nil {
		return err
	}
	// The target registry is restarted on the same address before most
	// runs; the proxy dials it anew for every connection.
	b.dstProxy, err = b.link.Start("target", b.dstAddr)
	return err
}

func (b *bench) stopProxies() {
	for _, p := range []*wanproxy.Proxy{b.srcProxy, b.dstProxy} {
		if p != nil {
			_ = p.Close()
		}
	}
}

// srcHost is the source registry as the tools reach it.
func (b *bench) srcHost() string {
	if b.srcProxy != nil {
		return b.srcProxy.Addr()
	}
	return b.src.Host()
}

// dstHost is the target registry as the tools reach it.
func (b *bench) dstHost() string {
	if b.dstProxy != nil {
		return b.dstProxy.Addr()
	}
	return b.dstAddr
}

// direct turns a reference through a proxy into the same reference on
// the registry itself, for the bench's own checks.
func (b *bench) direct(ref string) string {
	if b.dstProxy != nil {
		if rest, ok := strings.CutPrefix(ref, b.dstProxy.Addr()+"/"); ok {
			return b.dstAddr + "/" + rest
		}
	}
	return ref
}

// seedHosts maps every upstream domain of the sets to the stand-in
// registry itself, for pushing the sets.
func (b *bench) seedHosts() map[string]string {
	return map[string]string{"docker.io": b.src.Host(), "quay.io": b.src.Host()}
}

// toolHosts maps every upstream domain to the stand-in as the tools
// reach it.
func (b *bench) toolHosts() map[string]string {
	return map[string]string{"docker.io": b.srcHost(), "quay.io": b.srcHost()}
}

// proxyMarks are the lengths of the proxies' logs before a run.
type proxyMarks struct{ src, dst int }

func (b *bench) markProxies() proxyMarks {
	if b.link == nil {
		return proxyMarks{}
	}
	return proxyMarks{src: b.srcProxy.Log().Len(), dst: b.dstProxy.Log().Len()}
}

// exchanges are what crossed the proxies since mk.
func (b *bench) exchanges(mk proxyMarks) []wanproxy.Exchange {
	if b.link == nil {
		return nil
	}
	return append(b.srcProxy.Log().Since(mk.src), b.dstProxy.Log().Since(mk.dst)...)
}

// attributorFor is the attributor of ws's images in WAN mode, nil on
// loopback (where round trips cost next to nothing).
func (b *bench) attributorFor(ws *workspace) *attributor {
	if !b.wan() {
		return nil
	}
	return b.newAttributor(ws)
}

// skopeoJobs is the skopeo job on loopback; WAN runs leave it out (the issue
// compares with crane and regsync, and skopeo copies one image at a time,
// reading every manifest again: minutes per round at 150 ms).
func (b *bench) skopeoJobs(ws *workspace, scenario string) []job {
	if b.wan() {
		return nil
	}
	return []job{b.skopeoJob(ws, scenario)}
}
