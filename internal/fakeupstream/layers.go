package fakeupstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one entry of a generated layer; a name ending in "/" is a
// directory.
type file struct {
	name string
	data []byte
	mode int64  // 0 means 0644 for files, 0755 for directories
	link string // the target of a symbolic link
}

// tarball writes files as a USTAR archive whose headers hold nothing that
// varies between runs: fixed mode, owner 0:0, no user names, and the epoch
// as modification time.
func tarball(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:     f.name,
			Mode:     0o644,
			Size:     int64(len(f.data)),
			ModTime:  epoch(),
			Typeflag: tar.TypeReg,
			Format:   tar.FormatUSTAR,
		}
		switch {
		case strings.HasSuffix(f.name, "/"):
			hdr.Mode, hdr.Size, hdr.Typeflag = 0o755, 0, tar.TypeDir
		case f.link != "":
			hdr.Mode, hdr.Size, hdr.Typeflag, hdr.Linkname = 0o777, 0, tar.TypeSymlink, f.link
		case f.mode != 0:
			hdr.Mode = f.mode
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing tar header for %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("writing tar entry %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}

// storedGzip wraps data in a gzip stream made of deflate "stored" blocks,
// written by hand. The layers are random bytes that no compressor could
// shrink anyway, and unlike compress/gzip's output, which may change
// whenever the Go toolchain tunes its compressor, this byte layout is fixed
// by RFC 1951/1952, so digests stay the same across Go versions.
func storedGzip(data []byte) []byte {
	const maxBlock = 65535
	out := make([]byte, 0, len(data)+len(data)/maxBlock*5+5+18)
	// Magic, CM=deflate, no flags, MTIME=0, no extra flags, OS=unknown.
	out = append(out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff)
	for rest := data; ; {
		n := min(len(rest), maxBlock)
		final := byte(0)
		if n == len(rest) {
			final = 1
		}
		// BFINAL bit, BTYPE=00 (stored); the remaining bits of the byte
		// are padding up to the byte-aligned LEN and NLEN.
		out = append(out, final)
		out = binary.LittleEndian.AppendUint16(out, uint16(n))
		out = binary.LittleEndian.AppendUint16(out, ^uint16(n))
		out = append(out, rest[:n]...)
		rest = rest[n:]
		if final == 1 {
			break
		}
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return out
}

// randomBytes is n bytes from ChaCha8 seeded by the SHA-256 of the parts:
// the same parts give the same bytes on every run and machine (the
// algorithm is specified, not an implementation detail), and the bytes do
// not compress, like real binaries in real layers mostly do not.
func randomBytes(n int64, parts ...string) []byte {
	seed := sha256.Sum256([]byte("fakeupstream\x00" + strings.Join(parts, "\x00")))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b) // ChaCha8.Read never fails
	return b
}

// layer is a generated gzip layer held in memory with its hashes computed
// once, so that pushing it does not decompress it again for the diff ID.
type layer struct {
	compressed []byte
	digest     v1.Hash
	diffID     v1.Hash
	mediaType  types.MediaType
}

var _ v1.Layer = (*layer)(nil)

// newLayer builds a gzip layer of the given media type from files.
func newLayer(files []file, mt types.MediaType) (*layer, error) {
	tarBytes, err := tarball(files)
	if err != nil {
		return nil, err
	}
	gz := storedGzip(tarBytes)
	return &layer{
		compressed: gz,
		digest:     sha256Hash(gz),
		diffID:     sha256Hash(tarBytes),
		mediaType:  mt,
	}, nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}

// Digest is the SHA-256 of the gzip bytes.
func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID is the SHA-256 of the tar bytes.
func (l *layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Compressed returns the gzip bytes.
func (l *layer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}

// Uncompressed returns the tar bytes.
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.compressed))
	if err != nil {
		return nil, fmt.Errorf("decompressing generated layer: %w", err)
	}
	return zr, nil
}

// Size is the length of the gzip bytes.
func (l *layer) Size() (int64, error) { return int64(len(l.compressed)), nil }

// MediaType is the OCI or Docker gzip layer type.
func (l *layer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
