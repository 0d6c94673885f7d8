package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
)

// DefaultConfigPath is where the cluster config is read from, as in
// Arvados.
const DefaultConfigPath = clusterconfig.DefaultPath

// loadConfig reads the cluster config at path and returns the
// management token and the dispatcher's internal URLs
// (Services.DispatchCloud.InternalURLs). Tests replace it.
var loadConfig = loadClusterConfig

// httpClient talks to the dispatchers.
var httpClient = &http.Client{Timeout: time.Minute}

// cliTimeout bounds one whole command.
const cliTimeout = 2 * time.Minute

const instanceUsage = `usage: vmdispatch instance [-config FILE] COMMAND [ARGS]

commands:
  list [-header]               list the dispatcher's instances (TSV)
  hold ID...                   accept no new containers; never shut down
  drain ID...                  accept no new containers; shut down when idle
  run ID...                    back to normal
  kill [-reason TEXT] ID...    destroy now

Every command goes to each Services.DispatchCloud.InternalURLs entry of
the cluster config, with its ManagementToken.
`

// InstanceMain is `vmdispatch instance`: it lists the dispatcher's
// instances, or sets their idle behavior or kills them, through the
// management API of every dispatcher in the cluster config. It returns
// the exit code: 0 on success, 1 if a request failed (for an instance
// ID, if no dispatcher answered 200), 2 on bad usage.
func InstanceMain(args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("vmdispatch instance", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, instanceUsage) }
	configPath := global.String("config", DefaultConfigPath, "cluster config `file`")
	if err := global.Parse(args); err != nil {
		return usageExit(err)
	}
	if global.NArg() == 0 {
		global.Usage()
		return 2
	}
	cmd, rest := global.Arg(0), global.Args()[1:]

	fs := flag.NewFlagSet("vmdispatch instance "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = global.Usage
	fs.StringVar(configPath, "config", *configPath, "cluster config `file`")
	var header *bool
	var reason *string
	switch cmd {
	case "list":
		header = fs.Bool("header", false, "print a header line")
	case "kill":
		reason = fs.String("reason", "", "why, for the logs")
	case "hold", "drain", "run":
	default:
		fmt.Fprintf(stderr, "vmdispatch instance: unknown command %q\n", cmd)
		global.Usage()
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		return usageExit(err)
	}
	if cmd == "list" && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vmdispatch instance list: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cmd != "list" && fs.NArg() == 0 {
		fmt.Fprintf(stderr, "vmdispatch instance %s: no instance IDs given\n", cmd)
		return 2
	}

	token, urls, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "vmdispatch instance: %v\n", err)
		return 1
	}
	if token == "" {
		fmt.Fprintf(stderr, "vmdispatch instance: %s: ManagementToken is not set\n", *configPath)
		return 1
	}
	if len(urls) == 0 {
		fmt.Fprintf(stderr, "vmdispatch instance: %s: no Services.DispatchCloud.InternalURLs\n", *configPath)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	c := client{token: token, urls: urls, stderr: stderr}
	if cmd == "list" {
		return c.list(ctx, stdout, *header)
	}
	params := url.Values{}
	if reason != nil && *reason != "" {
		params.Set("reason", *reason)
	}
	return c.post(ctx, cmd, fs.Args(), params)
}

func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// client is the management API's client for one command.
type client struct {
	token  string
	urls   []*url.URL
	stderr io.Writer
}

// request sends one request to base and returns the response; the
// caller closes its body.
func (c client) request(ctx context.Context, method string, base *url.URL, path string, params url.Values) (*http.Response, error) {
	u := base.JoinPath(path)
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return httpClient.Do(req)
}

// list prints every dispatcher's instances as TSV.
func (c client) list(ctx context.Context, stdout io.Writer, header bool) int {
	if header {
		fmt.Fprintln(stdout, "instance\taddress\tstate\tidle-behavior\tconfig-type\tprovider-type\tprice\trunning-containers")
	}
	code := 0
	for _, base := range c.urls {
		items, err := c.instances(ctx, base)
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", base.Host, err)
			code = 1
			continue
		}
		for _, v := range items {
			running := strings.Join(v.RunningContainerUUIDs, ",")
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\t%f\t%s\n",
				dash(v.Instance), dash(v.Address), v.WorkerState, v.IdleBehavior,
				v.ArvadosInstanceType, v.ProviderInstanceType, v.Price, dash(running))
		}
	}
	return code
}

// instances fetches one dispatcher's instance list.
func (c client) instances(ctx context.Context, base *url.URL) ([]instanceView, error) {
	resp, err := c.request(ctx, http.MethodGet, base, pathInstances, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s", resp.Status, errorDetail(resp.Body))
	}
	var list itemList[instanceView]
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("bad instance list: %w", err)
	}
	return list.Items, nil
}

// post sends action (hold, drain, run, kill) for every ID to every
// dispatcher; an ID succeeds if any dispatcher answered 200 (the others
// do not know the instance).
func (c client) post(ctx context.Context, action string, ids []string, params url.Values) int {
	code := 0
	for _, id := range ids {
		ok := false
		for _, base := range c.urls {
			p := url.Values{"instance_id": {id}}
			for k, v := range params {
				p[k] = v
			}
			resp, err := c.request(ctx, http.MethodPost, base, pathInstances+"/"+action, p)
			if err != nil {
				fmt.Fprintf(c.stderr, "%s: %v (%s)\n", id, err, base.Host)
				continue
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxFormBytes))
			resp.Body.Close()
			fmt.Fprintf(c.stderr, "%s: %s (%s)\n", id, resp.Status, base.Host)
			if resp.StatusCode == http.StatusOK {
				ok = true
			}
		}
		if !ok {
			code = 1
		}
	}
	return code
}

// errorDetail returns ": msg" from an Arvados error body, or "".
func errorDetail(body io.Reader) string {
	var e errorBody
	if json.NewDecoder(io.LimitReader(body, maxFormBytes)).Decode(&e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return ": " + strings.Join(e.Errors, "; ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
