// Command floor is the benchmark's floor: it streams every blob of a list
// once from the source registry to the target registry, N at a time, with
// a GET from the source and one monolithic PUT to the target per blob. No
// manifests, no existence checks, no mounts, no digest verification: no
// copier that has to leave a usable image behind can do less.
//
//	floor -parallel 8 blobs.json
//
// blobs.json: {"source": "http://127.0.0.1:5001", "target":
// "http://127.0.0.1:5002", "blobs": [{"path": "library/nginx", "digest":
// "sha256:...", "size": 123}]}
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
)

type blob struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

type input struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Blobs  []blob `json:"blobs"`
}

func main() {
	parallel := flag.Int("parallel", 8, "blobs in flight")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: floor [-parallel N] blobs.json")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *parallel); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(file string, parallel int) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var in input
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = parallel * 2
	client := &http.Client{Transport: tr, Timeout: 10 * time.Minute}
	var g errgroup.Group
	g.SetLimit(parallel)
	for _, b := range in.Blobs {
		g.Go(func() error { return copyBlob(client, in.Source, in.Target, b) })
	}
	return g.Wait()
}

func copyBlob(client *http.Client, src, dst string, b blob) error {
	resp, err := client.Post(dst+"/v2/"+b.Path+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("start upload of %s: %s", b.Digest, resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return err
	}
	get, err := client.Get(src + "/v2/" + b.Path + "/blobs/" + b.Digest)
	if err != nil {
		return err
	}
	defer get.Body.Close()
	if get.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s", b.Digest, get.Status)
	}
	q := loc.Query()
	q.Set("digest", b.Digest)
	loc.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodPut, loc.String(), get.Body)
	if err != nil {
		return err
	}
	req.ContentLength = b.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	put, err := client.Do(req)
	if err != nil {
		return err
	}
	defer put.Body.Close()
	_, _ = io.Copy(io.Discard, put.Body)
	if put.StatusCode != http.StatusCreated {
		return fmt.Errorf("put %s: %s", b.Digest, put.Status)
	}
	return nil
}
