// Command verify_go checks the hub's audit log with Go's independent
// implementation of signed notes and transparency logs
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog):
// the checkpoint's signature, an entry's inclusion proof, a consistency
// proof between two checkpoints, and the tree hash recomputed from tiles.
// It parses entries of both versions and, given a person's common ID,
// opens the version 2 commitments to it with the salts an operator gets
// (HMAC-SHA256 from Go's standard library).
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type entryProof struct {
	Seq            int64    `json:"seq"`
	EntryJSON      string   `json:"entry_json"`
	TreeSize       int64    `json:"tree_size"`
	InclusionProof []string `json:"inclusion_proof"`
	Checkpoint     string   `json:"checkpoint"`
	SubjectSalt    string   `json:"subject_salt"`
}

// entry holds the fields of an entry this check reads.
type entry struct {
	V                 int     `json:"v"`
	Seq               int64   `json:"seq"`
	Kind              string  `json:"kind"`
	Subject           *string `json:"subject"`
	SubjectCommitment *string `json:"subject_commitment"`
}

// parseEntry reads an entry of version 1 (subject in plain) or 2 (subject
// by commitment only).
func parseEntry(text string) entry {
	var e entry
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		fail("entry: %v", err)
	}
	switch e.V {
	case 1:
		if e.SubjectCommitment != nil {
			fail("entry %d: version 1 with a subject_commitment", e.Seq)
		}
	case 2:
		if e.Subject != nil {
			fail("entry %d: version 2 names its subject in plain", e.Seq)
		}
	default:
		fail("entry %d: unknown version %d", e.Seq, e.V)
	}
	return e
}

// opens reports whether the salt (hex) opens the commitment (hex) to id.
func opens(saltHex, commitmentHex, id string) bool {
	salt, err := hex.DecodeString(saltHex)
	if err != nil || len(salt) != 32 {
		fail("bad salt %q", saltHex)
	}
	want, err := hex.DecodeString(commitmentHex)
	if err != nil || len(want) != sha256.Size {
		fail("bad commitment %q", commitmentHex)
	}
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte(id))
	return hmac.Equal(mac.Sum(nil), want)
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

var (
	base  = flag.String("url", "", "hub base URL")
	key   = flag.String("key", "", "log verifier key")
	token = flag.String("token", "", "operator token")
	seq   = flag.Int64("seq", 0, "entry to check")
	prev  = flag.String("old", "", "file with an earlier checkpoint the log must extend")
	who   = flag.String("person", "", "a common ID: its entries' commitments must open with their salts")
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "verify_go: "+format+"\n", args...)
	os.Exit(1)
}

func get(path string, auth bool) []byte {
	req, err := http.NewRequest("GET", strings.TrimRight(*base, "/")+path, nil)
	if err != nil {
		fail("%v", err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		fail("GET %s: %d %v %s", path, res.StatusCode, err, body)
	}
	return body
}

func hashes(b64 []string) []tlog.Hash {
	out := make([]tlog.Hash, len(b64))
	for i, s := range b64 {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != tlog.HashSize {
			fail("bad hash %q", s)
		}
		copy(out[i][:], raw)
	}
	return out
}

func open(verifiers note.Verifiers, text string) checkpoint {
	n, err := note.Open([]byte(text), verifiers)
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint has too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	return checkpoint{origin: lines[0], size: size, root: hashes([]string{lines[2]})[0]}
}

// tiles reads C2SP tiles (no height element in the path) for tlog.
type tiles struct{}

func (tiles) Height() int { return 8 }

func (tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		// Go's path is tile/8/L/N[.p/W]; C2SP's is tile/L/N[.p/W].
		path := strings.TrimPrefix(t.Path(), "tile/8/")
		out[i] = get("/log/tile/"+path, false)
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	flag.Parse()
	v, err := note.NewVerifier(*key)
	if err != nil {
		fail("verifier key: %v", err)
	}
	verifiers := note.VerifierList(v)

	var p entryProof
	if err := json.Unmarshal(get(fmt.Sprintf("/v1/audit/entries/%d", *seq), true), &p); err != nil {
		fail("entry: %v", err)
	}
	old := open(verifiers, p.Checkpoint)
	parseEntry(p.EntryJSON)
	leaf := tlog.RecordHash([]byte(p.EntryJSON))
	if err := tlog.CheckRecord(hashes(p.InclusionProof), old.size, old.root, p.Seq, leaf); err != nil {
		fail("inclusion proof of entry %d: %v", p.Seq, err)
	}
	fmt.Printf("inclusion of entry %d in tree %d of %s: ok\n", p.Seq, old.size, old.origin)

	latest := open(verifiers, string(get("/log/checkpoint", false)))
	if *prev != "" {
		text, err := os.ReadFile(*prev)
		if err != nil {
			fail("%v", err)
		}
		old = open(verifiers, string(text))
	}
	if latest.size > old.size {
		var c struct {
			Proof []string `json:"proof"`
		}
		path := fmt.Sprintf("/log/proof/consistency?from=%d&to=%d", old.size, latest.size)
		if err := json.Unmarshal(get(path, false), &c); err != nil {
			fail("consistency: %v", err)
		}
		if err := tlog.CheckTree(hashes(c.Proof), latest.size, latest.root, old.size, old.root); err != nil {
			fail("consistency %d -> %d: %v", old.size, latest.size, err)
		}
		fmt.Printf("consistency %d -> %d: ok\n", old.size, latest.size)
	}

	// The tree hash and a proof recomputed by tlog from the tiles.
	hr := tlog.TileHashReader(tlog.Tree{N: latest.size, Hash: latest.root}, tiles{})
	th, err := tlog.TreeHash(latest.size, hr)
	if err != nil || th != latest.root {
		fail("tree hash from tiles: %v (%v != %v)", err, th, latest.root)
	}
	proof, err := tlog.ProveRecord(latest.size, p.Seq, hr)
	if err != nil {
		fail("proof from tiles: %v", err)
	}
	if err := tlog.CheckRecord(proof, latest.size, latest.root, p.Seq, leaf); err != nil {
		fail("proof from tiles: %v", err)
	}
	fmt.Printf("tree %d recomputed from tiles: ok\n", latest.size)

	// Every entry parses; the person's commitments open with their salts.
	versions := map[int]int{}
	opened := 0
	for s := int64(0); s < latest.size; s++ {
		var e entryProof
		if err := json.Unmarshal(get(fmt.Sprintf("/v1/audit/entries/%d", s), true), &e); err != nil {
			fail("entry %d: %v", s, err)
		}
		parsed := parseEntry(e.EntryJSON)
		versions[parsed.V]++
		if *who == "" || parsed.SubjectCommitment == nil {
			continue
		}
		if e.SubjectSalt == "" {
			fail("entry %d: no salt given to the operator", s)
		}
		if opens(e.SubjectSalt, *parsed.SubjectCommitment, *who) {
			opened++
		}
	}
	fmt.Printf("entries parsed: %d of version 1, %d of version 2\n", versions[1], versions[2])
	if *who != "" {
		if opened == 0 {
			fail("no entry's commitment opens to the person given")
		}
		fmt.Printf("commitments to the person opened with their salts: %d\n", opened)
	}
}
