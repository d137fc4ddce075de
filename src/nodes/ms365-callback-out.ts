/**
 * Node-RED adapter for `ms365-callback-out` (placeholder until its issue is done): it loads, shows in the palette and
 * says in its status that it does nothing yet.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';

export = function register(RED: NodeAPI): void {
  function Ms365Node(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    this.status({ fill: 'grey', shape: 'ring', text: 'not implemented yet' });
  }
  RED.nodes.registerType('ms365-callback-out', Ms365Node);
};
