-- 0006 engine unreachable: since when a node's agent, still heartbeating, has reported the node's
-- engine unreachable (NULL while reachable). The node monitor marks such a node down after
-- node_unreachable_after, sooner than node_down_after for a node whose agent fell silent: a live
-- agent that cannot reach its engine is sure of it, a silent one may only have lost its own link.
ALTER TABLE nodes
    ADD COLUMN engine_unreachable_since timestamptz;
