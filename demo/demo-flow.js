'use strict';
// The demo flow deployed by `npm start` on first run: a connector on the simulated tenant (client credentials, so
// no sign-in is needed), a poller and a webhook-in into debug nodes, and a callback-out to the local receiver.
module.exports = function demoFlow({ sim, clientId, clientSecret, userId, receiverUrl, nodeRedUrl }) {
  const tab = 'ms365demo';
  return [
    { id: tab, type: 'tab', label: 'Microsoft 365 demo', info: 'Deployed by `npm start` against the simulated tenant.' },
    {
      id: 'demo-comment', type: 'comment', z: tab, x: 200, y: 40, wires: [],
      name: 'Simulated Microsoft 365: events appear in the debug sidebar',
      info: 'The simulator creates, updates and deletes a mail, a meeting and a file every few seconds. The poller sees them on its interval; the webhook-in gets Graph change notifications; the callback-out posts signed Open Connectors envelopes to the local receiver (its log is printed by npm start).',
    },
    {
      id: 'demo-conn', type: 'ms365-connector', name: 'Simulated tenant', elementKey: 'office365',
      tenant: sim.state.tenantId, grantType: 'client_credentials', scope: '', callbackUrl: '',
      authorityHost: sim.authorityHost, graphBaseUrl: sim.graphBaseUrl, userId, tags: 'demo',
      credentials: { clientId, clientSecret },
    },
    {
      id: 'demo-poller', type: 'ms365-poller', z: tab, x: 160, y: 120, name: 'Poll mail, calendar, files',
      connector: 'demo-conn', interval: 0.1, timezone: 'UTC', pollOnStart: true,
      configuration: JSON.stringify({
        messages: { url: '/me/mailFolders/inbox/messages/delta', idField: 'id' },
        events: {
          url: '/me/events?$filter=lastModifiedDateTime ge ${gmtDate:yyyy-MM-dd\'T\'HH:mm:ss\'Z\'}',
          idField: 'id',
          datesConfiguration: {
            updatedDateField: 'lastModifiedDateTime', updatedDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", updatedDateTimezone: 'GMT',
            createdDateField: 'createdDateTime', createdDateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", createdDateTimezone: 'GMT',
          },
        },
        driveItems: { url: '/me/drive/root/delta', idField: 'id' },
      }, null, 2),
      wires: [['demo-debug-poll', 'demo-callback']],
    },
    {
      id: 'demo-webhook', type: 'ms365-webhook-in', z: tab, x: 160, y: 220, name: 'Graph notifications',
      connector: 'demo-conn', path: '/ms365/notifications', notificationUrl: nodeRedUrl.replace(/\/$/, ''),
      subscriptions: JSON.stringify([
        { resource: `users/${userId}/messages`, changeType: 'created,updated,deleted' },
        { resource: `users/${userId}/events`, changeType: 'created,updated,deleted' },
      ]),
      fetchResource: true,
      wires: [['demo-debug-hook', 'demo-callback'], ['demo-debug-lifecycle']],
    },
    {
      id: 'demo-callback', type: 'ms365-callback-out', z: tab, x: 460, y: 320, name: 'Signed callback',
      url: receiverUrl, batchSize: '', retries: 5,
      credentials: { signatureKey: 'demo-signature-key' },
      wires: [['demo-debug-delivered'], ['demo-debug-failed']],
    },
    { id: 'demo-debug-poll', type: 'debug', z: tab, x: 480, y: 100, name: 'polling events', active: true, complete: 'payload', wires: [] },
    { id: 'demo-debug-hook', type: 'debug', z: tab, x: 480, y: 200, name: 'webhook events', active: true, complete: 'payload', wires: [] },
    { id: 'demo-debug-lifecycle', type: 'debug', z: tab, x: 480, y: 240, name: 'subscriptions', active: true, complete: 'true', wires: [] },
    { id: 'demo-debug-delivered', type: 'debug', z: tab, x: 720, y: 300, name: 'delivered', active: false, complete: 'true', wires: [] },
    { id: 'demo-debug-failed', type: 'debug', z: tab, x: 720, y: 340, name: 'given up', active: true, complete: 'true', wires: [] },
  ];
};
