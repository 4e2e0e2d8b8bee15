-- 0011 container networks (issue 15): a cluster's networking mode, chosen at creation and fixed
-- after ('host': every container on its node's host network, as before; 'node_subnets': each
-- node's engine gets a caas bridge network for the node's subnet and each container its own
-- address from it), and each container's address, chosen by the control plane at placement.
-- An address is held while its container row exists (the row goes once the agent confirmed the
-- removal); the unique index is the second wall behind the allocation under the cluster's
-- apply lock.
ALTER TABLE clusters ADD COLUMN networking text NOT NULL DEFAULT 'host'
    CHECK (networking IN ('host', 'node_subnets'));
ALTER TABLE containers ADD COLUMN ip_address inet;
CREATE UNIQUE INDEX containers_node_ip_address ON containers (node_id, ip_address) WHERE ip_address IS NOT NULL;
