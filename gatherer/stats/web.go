package stats

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// Polling today's Tahoe nodes over HTTP.
//
// Tahoe 1.16 and later have no stats gatherer client, but every node serves
// its get_stats() dict at GET <web URL>/statistics?t=json. The file
// web_nodes in the gatherer directory lists the nodes to poll, one per line:
//
//	# comment
//	http://127.0.0.1:3456/            storage-7
//	https://user:secret@node.example/tahoe/
//
// A line is a web URL (http or https; a path prefix is kept, for nodes
// behind a reverse proxy), optionally followed by white space and a
// nickname. The body carries no node id, so the entry's key in stats.json is
// the URL itself, normalised: scheme and host in lower case, no default
// port, no user info, query or fragment, no trailing slash
// ("http://127.0.0.1:3456"). It cannot collide with a tubid, which never
// contains "://". The file is re-read at every poll round.

const (
	maxWebNodesFileBytes = 1 << 20
	maxWebNodes          = 10000
)

// webNode is one line of web_nodes.
type webNode struct {
	id       string // normalised URL, the key in stats.json
	statsURL string // what to GET
	nickname string
}

type webState struct {
	node     webNode
	inflight bool
	failed   bool // the last poll failed
}

// parseWebNodes reads web_nodes. Bad lines are reported in problems and
// skipped; the good ones are returned in order, duplicates removed.
func parseWebNodes(data []byte) (nodes []webNode, problems []error) {
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxWebNodesFileBytes)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := parseWebNode(line)
		if err != nil {
			problems = append(problems, fmt.Errorf("line %d: %w", lineNo, err))
			continue
		}
		if seen[n.id] {
			problems = append(problems, fmt.Errorf("line %d: %s listed twice", lineNo, n.id))
			continue
		}
		if len(nodes) == maxWebNodes {
			problems = append(problems, fmt.Errorf("line %d: more than %d nodes; the rest is ignored", lineNo, maxWebNodes))
			break
		}
		seen[n.id] = true
		nodes = append(nodes, n)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err)
	}
	return nodes, problems
}

func parseWebNode(line string) (webNode, error) {
	raw, nick := line, ""
	if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 {
		raw, nick = line[:i], strings.TrimSpace(line[i:])
	}
	u, err := url.Parse(raw)
	if err != nil {
		return webNode{}, fmt.Errorf("not a URL: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return webNode{}, fmt.Errorf("%s: want an http:// or https:// URL", quote(raw))
	}
	if u.Host == "" {
		return webNode{}, fmt.Errorf("%s: no host", quote(raw))
	}
	host := strings.ToLower(u.Host)
	if u.Scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	path := strings.TrimRight(u.Path, "/")
	id := (&url.URL{Scheme: u.Scheme, Host: host, Path: path}).String()
	get := url.URL{Scheme: u.Scheme, User: u.User, Host: host, Path: path + "/statistics", RawQuery: "t=json"}
	return webNode{id: id, statsURL: get.String(), nickname: nick}, nil
}

// readWebNodes re-reads web_nodes and updates the set of web nodes. An
// unchanged file is not parsed again. A missing file means no web nodes.
func (s *Service) readWebNodes() {
	path := filepath.Join(s.dir, WebNodesFile)
	data, err := readLimited(path, maxWebNodesFileBytes)
	if errors.Is(err, os.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		s.log.Warn("cannot read the web nodes file; keeping the previous list", "file", path, "err", err)
		return
	}
	s.mu.Lock()
	same := s.webFile != nil && bytes.Equal(data, s.webFile)
	s.mu.Unlock()
	if same {
		return
	}
	nodes, problems := parseWebNodes(data)
	for _, p := range problems {
		s.log.Warn("skipping a line of the web nodes file", "file", path, "err", p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		data = []byte{}
	}
	s.webFile = data
	keep := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		keep[n.id] = true
		if ws, ok := s.web[n.id]; ok {
			ws.node = n
			continue
		}
		s.web[n.id] = &webState{node: n}
	}
	for id := range s.web {
		if !keep[id] {
			delete(s.web, id)
		}
	}
	if len(nodes) > 0 {
		s.log.Info("web nodes to poll", "file", path, "count", len(nodes))
	}
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

func (s *Service) pollWeb(ctx context.Context, ws *webState) {
	s.mu.Lock()
	node := ws.node
	s.mu.Unlock()
	var err error
	defer func() {
		s.mu.Lock()
		ws.inflight = false
		if err != nil {
			ws.failed = true
		}
		s.mu.Unlock()
	}()
	if !s.acquire(ctx) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	start := time.Now()
	var cats []category
	cats, err = s.fetchWeb(cctx, node)
	s.m.ObserveFetch(time.Since(start))
	cancel()
	s.release()
	if err != nil {
		if ctx.Err() != nil {
			err = nil // shutting down
			return
		}
		s.m.Error("web_poll")
		s.log.Warn("cannot poll a node's /statistics; will try again next round", "node", node.id, "err", err)
		return
	}
	s.mu.Lock()
	ws.failed = false
	s.mu.Unlock()
	s.store(&entry{id: node.id, nickname: node.nickname, timestamp: s.unixNow(), stats: cats})
}

// fetchWeb GETs one node's /statistics?t=json and parses it.
func (s *Service) fetchWeb(ctx context.Context, n webNode) ([]category, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.statsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err // *url.Error: names the URL, password redacted
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > s.maxBody {
		return nil, fmt.Errorf("body larger than %d bytes", s.maxBody)
	}
	v, err := pyjson.Unmarshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", errMalformed, err)
	}
	return fromAnswer(v, s.maxKeys)
}
