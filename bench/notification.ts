/** The body Graph posts to a webhook, shared by the bench scripts that post to ms365-webhook-in. */

/**
 * A change notification (JSON) of one created message `id` at version `version` (its etag), for subscription
 * `bench-subscription` with `clientState`.
 */
export function messageNotification(id: string, version: number, clientState: string): string {
  return JSON.stringify({
    value: [
      {
        subscriptionId: 'bench-subscription',
        subscriptionExpirationDateTime: '2030-01-01T00:00:00.000Z',
        clientState,
        changeType: 'created',
        resource: `Users/u/Messages/${id}`,
        tenantId: 't',
        resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': `Users/u/Messages/${id}`, '@odata.etag': `W/"${version}"`, id },
      },
    ],
  });
}
