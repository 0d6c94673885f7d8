package mgmt

import (
	"net/url"

	"github.com/vmdispatch/vmdispatch/clusterconfig"
)

// loadClusterConfig reads the management token and the dispatcher's
// internal URLs from the cluster config at path.
func loadClusterConfig(path string) (token string, urls []*url.URL, err error) {
	c, err := clusterconfig.Load(path)
	if err != nil {
		return "", nil, err
	}
	for _, u := range c.InternalURLs {
		if u.URL != nil {
			urls = append(urls, u.URL)
		}
	}
	return c.ManagementToken, urls, nil
}
