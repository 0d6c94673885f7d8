package azure

import (
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// clouds maps the Arvados CloudEnvironment names to the SDK's clouds.
var clouds = map[string]cloud.Configuration{
	"AzurePublicCloud":       cloud.AzurePublic,
	"AzureUSGovernmentCloud": cloud.AzureGovernment,
	"AzureChinaCloud":        cloud.AzureChina,
}

// credential picks how the driver authenticates.
//
// With a ClientSecret it is the service principal, exactly as in Arvados.
// Without one it is a chain of the credentials that suit a daemon:
// environment (AZURE_TENANT_ID, AZURE_CLIENT_ID plus AZURE_CLIENT_SECRET or
// AZURE_CLIENT_CERTIFICATE_PATH), then workload identity (AKS federated
// token: AZURE_FEDERATED_TOKEN_FILE), then managed identity (the VM or pod
// the dispatcher runs on; ClientID, if set, selects a user-assigned
// identity). That is DefaultAzureCredential without its developer tools
// (Azure CLI, azd, PowerShell), which a daemon must never fall back to.
// Credentials whose environment is absent are left out of the chain.
func credential(p Params) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Cloud: clouds[p.CloudEnvironment]}
	if p.ClientSecret != "" {
		cred, err := azidentity.NewClientSecretCredential(p.TenantID, p.ClientID, p.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("azure: client secret credential: %w", err)
		}
		return cred, nil
	}
	var chain []azcore.TokenCredential
	var errs []error
	if env, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: opts}); err == nil {
		chain = append(chain, env)
	} else {
		errs = append(errs, err)
	}
	if wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: opts, ClientID: p.ClientID, TenantID: p.TenantID,
	}); err == nil {
		chain = append(chain, wi)
	} else {
		errs = append(errs, err)
	}
	miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
	if p.ClientID != "" {
		miOpts.ID = azidentity.ClientID(p.ClientID)
	}
	if mi, err := azidentity.NewManagedIdentityCredential(miOpts); err == nil {
		chain = append(chain, mi)
	} else {
		errs = append(errs, err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("azure: no ClientSecret and no usable environment, workload or managed identity: %w", errors.Join(errs...))
	}
	cred, err := azidentity.NewChainedTokenCredential(chain, nil)
	if err != nil {
		return nil, fmt.Errorf("azure: credential chain: %w", err)
	}
	return cred, nil
}
