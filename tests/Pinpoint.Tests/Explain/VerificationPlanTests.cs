using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>The random sets an ablation check compares the top set with.</summary>
public sealed class VerificationPlanTests
{
    private static readonly TransformerConfig FourLayers = new()
    {
        Architecture = "gpt2", DModel = 16, NLayers = 4, NHeads = 8, NKvHeads = 8, DHead = 2, DMlp = 32, VocabSize = 10, ContextLength = 8,
    };

    private static readonly Component[] MlpsThenAHead =
        [new(ComponentKind.Mlp, 0, 0), new(ComponentKind.Mlp, 2, 0), new(ComponentKind.Mlp, 1, 0), new(ComponentKind.Mlp, 3, 0), new(ComponentKind.Head, 2, 1)];

    [Fact]
    public void RandomSetsKeepTheMixOfKindsWhereAKindHasRoomToDraw()
    {
        var plan = Verification.Plan(FourLayers, MlpsThenAHead, 5, seed: 3);
        // One or two MLPs of four: random MLPs, not always the top ones.
        Assert.All(plan.Random[0], set => Assert.Equal(ComponentKind.Mlp, Assert.Single(set).Kind));
        Assert.All(plan.Random[1], set => Assert.All(set, c => Assert.Equal(ComponentKind.Mlp, c.Kind)));
        Assert.Contains(plan.Random[1], set => !set.ToHashSet().SetEquals(MlpsThenAHead[..2]));
    }

    [Fact]
    public void AKindWithoutRoomIsDrawnFromAllHeadsAndMlpsSoRandomSetsAreNotTheTopSet()
    {
        var plan = Verification.Plan(FourLayers, MlpsThenAHead, 5, seed: 3);
        for (int n = 3; n <= 5; n++)
        {
            var top = plan.Top[n - 1].ToHashSet();
            Assert.All(plan.Random[n - 1], set =>
            {
                Assert.Equal(n, set.Distinct().Count());
                Assert.All(set, c => Assert.True(c.Kind is ComponentKind.Head or ComponentKind.Mlp));
                Assert.False(set.ToHashSet().SetEquals(top));
            });
        }
    }
}
