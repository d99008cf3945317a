"""Facts of node liveness and lonely-connection removal on hand-built masks."""

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from prunekit.core.masks import apply_mask, weight_sparsity
from prunekit.core.liveness import consumer_map, node_liveness, node_sparsity, remove_lonely_connections
from tests.helpers import tiny_cnn, tiny_mlp


def test_consumers_follow_batchnorm_activation_and_flatten():
    consumers = consumer_map(tiny_cnn())
    assert consumers["0"].layers == ("3",)
    assert consumers["3"].layers == ("8",)
    assert consumers["8"].reaches_output and consumers["8"].layers == ()


def test_residual_additions_are_followed_to_every_reader():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            h = self.a(x)
            return self.c(h + self.b(h))

    consumers = consumer_map(Block())
    assert consumers["a"].layers == ("b", "c")
    assert consumers["b"].layers == ("c",)


def test_a_dead_branch_node_under_a_residual_sum_keeps_its_readers_weights():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(4, 4), nn.Linear(4, 4, bias=False), nn.Linear(4, 2)

        def forward(self, x):
            h = self.a(x)
            return self.c(h + self.b(h))  # channel 0 of the sum still carries h's channel 0

    torch.manual_seed(0)
    block = Block().eval()
    dead = torch.ones(4, 4)
    dead[0] = 0  # b's node 0 has no incoming weight
    apply_mask(block.b, dead)
    x = torch.randn(8, 4)
    before = block(x)
    assert consumer_map(block)["b"].known is False
    remove_lonely_connections(block)
    assert not hasattr(block.c, "weight_mask") or torch.all(block.c.weight_mask[:, 0] == 1)  # c reads h's channel 0
    torch.testing.assert_close(block(x), before)


def test_a_node_without_incoming_or_outgoing_weights_is_dead():
    model = tiny_mlp()
    row_cut = torch.ones(32, 64)
    row_cut[:3] = 0  # nodes 0..2 of layer "1" lose every incoming weight
    apply_mask(model[1], row_cut)
    col_cut = torch.ones(32, 32)
    col_cut[:, 5:7] = 0  # nodes 5, 6 of layer "1" lose every outgoing weight
    apply_mask(model[5], col_cut)
    live = node_liveness(model)
    assert set(live.alive) == {"1", "5"}  # the output layer's nodes are not counted
    assert (~live.alive["1"]).nonzero().flatten().tolist() == [0, 1, 2, 5, 6]
    assert live.dead == 5 and live.total == 64
    assert node_sparsity(model) == pytest.approx(5 / 64)


def test_conv_channel_dead_when_its_flattened_block_is_unread():
    model = tiny_cnn()
    mask = torch.ones(10, 24)
    mask[:, 4:8] = 0  # channel 1 of conv "3" occupies flattened features 4..7 (2×2 pooled)
    apply_mask(model[8], mask)
    live = node_liveness(model)
    assert (~live.alive["3"]).nonzero().flatten().tolist() == [1]


def test_removing_lonely_connections_cascades_and_keeps_live_paths():
    model = tiny_mlp()
    cut = torch.ones(32, 64)
    cut[4] = 0
    apply_mask(model[1], cut)  # node 4 of layer "1" has no input ...
    before = weight_sparsity(model)
    removed = remove_lonely_connections(model)
    assert removed == 32  # ... so its 32 outgoing weights into layer "5" go
    assert torch.all(model[5].weight_mask[:, 4] == 0)
    assert weight_sparsity(model) > before
    assert torch_prune.is_pruned(model)
    assert remove_lonely_connections(model) == 0  # a fixed point
