using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Models;

/// <summary>The trace API against the plain hook path and against finite differences, on a small random GPT-2.</summary>
public class TraceTests
{
    private static readonly int[] Ids = [3, 17, 5, 29, 11, 8];
    private const int Target = 7, Foil = 13;

    /// <summary>A random 2-layer GPT-2 (d_model 32, 4 heads of 8) with F32 weights.</summary>
    public static HookedTransformer SmallModel(int seed = 5)
    {
        var architecture = (ITrainableArchitecture)ArchitectureRegistry.ByName("gpt2", "test");
        var config = architecture.ConfigForTraining(new TrainingShape(32, 2, 4, 64, 40, 16, AttentionOnly: false, EndOfText: null));
        return new HookedTransformer(config, architecture.CreateRandom(config, seed));
    }

    [Fact]
    public void ZeroingAHeadEqualsTheAblationPath()
    {
        var model = SmallModel();
        int head = 3, dHead = model.Config.DHead;
        var traced = model.Trace(Ids).Edit(HookNames.Z(1), z => z[.., .., head].Fill(0)).Run().Logits;
        var ablated = model.RunWithHooks(TokenBatch.Single(Ids),
            [(HookNames.Z(1), (z, _) => ActivationPatching.ReplaceColumns(z, new float[z.Size / z.Dim(1)], head * dHead, dHead))]);
        Assert.Equal(ablated.ToArray(), traced.ToArray());
        Assert.NotEqual(model.RunWithHooks(TokenBatch.Single(Ids), []).ToArray(), traced.ToArray());
    }

    [Fact]
    public void EditAtTheLastPositionChangesOnlyThatPositionAndIsSavedAsEdited()
    {
        var model = SmallModel();
        var clean = model.Trace(Ids).Save(HookNames.Z(1)).Run();
        var edited = model.Trace(Ids).Edit(HookNames.Z(1), z => z[.., ^1, 3].Fill(0)).Save(HookNames.Z(1)).Run();
        var z0 = clean[HookNames.Z(1)];
        var z1 = edited[HookNames.Z(1)];
        Assert.All(z1[0, ^1, 3].ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(z0[0, ..^1].ToArray(), z1[0, ..^1].ToArray());
        Assert.Equal(z0[0, ^1, ..3].ToArray(), z1[0, ^1, ..3].ToArray());
        // Causal attention: earlier positions' logits cannot see the last position's edit.
        int v = model.Config.VocabSize, t = Ids.Length;
        Assert.Equal(clean.Logits.ToArray()[..((t - 1) * v)], edited.Logits.ToArray()[..((t - 1) * v)]);
        Assert.NotEqual(clean.Logits.ToArray()[((t - 1) * v)..], edited.Logits.ToArray()[((t - 1) * v)..]);
    }

    [Fact]
    public void PatchingAHeadFromAnotherPromptEqualsCopyHead()
    {
        var model = SmallModel();
        int[] other = [3, 2, 5, 29, 30, 8];
        var source = model.Trace(other).Save(HookNames.Z(0)).Run()[HookNames.Z(0)];
        var traced = model.Trace(Ids).Edit(HookNames.Z(0), z => z[.., .., 2].Assign(source[.., .., 2])).Run().Logits;
        var patched = model.RunWithHooks(TokenBatch.Single(Ids), [(HookNames.Z(0), (z, _) => ActivationPatching.CopyHead(z, source, 2))]);
        Assert.Equal(patched.ToArray(), traced.ToArray());
    }

    [Fact]
    public void HookGradientMatchesFiniteDifferences()
    {
        var model = SmallModel();
        string hook = HookNames.ResidPost(0);
        var metric = Metrics.LogitDiff(Target, Foil);
        var run = model.Trace(Ids).Grad(hook).Run(metric);
        var grad = run.Grad(hook);
        Assert.Equal([1, Ids.Length, model.Config.DModel], grad.Shape.ToArray());
        const float h = 1e-2f;
        foreach (var (position, channel) in new[] { (5, 0), (5, 17), (2, 9), (0, 31) })
        {
            double Shifted(float by)
            {
                var delta = Tensor.Zeros(1, Ids.Length, model.Config.DModel);
                delta[0, position, channel] = by;
                return model.Trace(Ids).Edit(hook, r => r.Add(delta)).Run(metric).Metric!.Value;
            }
            double numeric = (Shifted(h) - Shifted(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[0, position, channel]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                $"position {position} channel {channel}: analytic {grad[0, position, channel]} vs numeric {numeric}");
        }
    }

    /// <summary>
    /// A replacement written with the pass's ops is differentiable: the gradient at an earlier hook through
    /// resid_post(0) ↦ 2·resid_post(0) matches finite differences of the replaced model; a plain replacement is a
    /// constant, through which nothing flows back.
    /// </summary>
    [Fact]
    public void ReplacementWithComputeOpsCarriesTheGradient()
    {
        var model = SmallModel();
        string replaced = HookNames.ResidPost(0), asked = HookNames.ResidPre(0);
        var metric = Metrics.LogitDiff(Target, Foil);
        Tensor Doubled(Tensor x, Compute cx) => cx.Scale(x, 2f);
        var grad = model.Trace(Ids).Replace(replaced, Doubled).Grad(asked).Run(metric).Grad(asked);
        var unreplaced = model.Trace(Ids).Grad(asked).Run(metric).Grad(asked);
        Assert.NotEqual(unreplaced.ToArray(), grad.ToArray());
        const float h = 1e-2f;
        foreach (var (position, channel) in new[] { (5, 0), (5, 17), (1, 30) })
        {
            double Shifted(float by)
            {
                var delta = Tensor.Zeros(1, Ids.Length, model.Config.DModel);
                delta[0, position, channel] = by;
                return model.Trace(Ids).Edit(asked, r => r.Add(delta)).Replace(replaced, Doubled).Run(metric).Metric!.Value;
            }
            double numeric = (Shifted(h) - Shifted(-h)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[0, position, channel]) <= 2e-3 + 2e-2 * Math.Abs(numeric),
                $"position {position} channel {channel}: analytic {grad[0, position, channel]} vs numeric {numeric}");
        }
        var constant = model.Trace(Ids).Replace(replaced, x => x.Clone()).Grad(asked).Run(metric).Grad(asked);
        Assert.All(constant.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void WeightGradientMatchesFiniteDifferencesAndLeavesTheModelUntouched()
    {
        var model = SmallModel();
        const string name = "blocks.1.mlp.out.W";
        var weight = model.Weight(name);
        var other = model.Weight("blocks.0.attn.qkv.W");
        bool marked = weight.RequiresGrad; // random (trainable) weights are all marked
        var metric = Metrics.LogProb(Target);
        var grad = model.Trace(Ids).Grad(name).Run(metric).Grad(name);
        Assert.Equal(marked, weight.RequiresGrad);
        Assert.Null(weight.Grad);
        Assert.Null(other.Grad);
        const float h = 1e-2f;
        foreach (var index in new[] { new[] { 0, 0 }, new[] { 10, 5 }, new[] { 63, 31 } })
        {
            float original = weight[index];
            weight[index] = original + h;
            double up = model.Trace(Ids).Run(metric).Metric!.Value;
            weight[index] = original - h;
            double down = model.Trace(Ids).Run(metric).Metric!.Value;
            weight[index] = original;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[index]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{name}{Tensor.Format(index)}: analytic {grad[index]} vs numeric {numeric}");
        }
    }

    /// <summary>Zeroing head 3's z everywhere cuts every path from its query weights to the metric: their gradient is exactly 0.</summary>
    [Fact]
    public void AssignedElementsStopTheGradient()
    {
        var model = SmallModel();
        int dHead = model.Config.DHead;
        var run = model.Trace(Ids).Edit(HookNames.Z(1), z => z[.., .., 3].Fill(0)).Grad("blocks.1.attn.qkv.W").Run(Metrics.LogitDiff(Target, Foil));
        var grad = run.Grad("blocks.1.attn.qkv.W"); // [d_model, 3·d_model]: q, k, v columns, head-major
        Assert.All(grad[.., (3 * dHead)..(4 * dHead)].ToArray(), g => Assert.Equal(0f, g));
        Assert.Contains(grad[.., (2 * dHead)..(3 * dHead)].ToArray(), g => g != 0f);
    }

    [Fact]
    public void UnknownNamesListTheClosest()
    {
        var model = SmallModel();
        var e = Assert.Throws<UnknownNameException>(() => model.Trace(Ids).Edit("blocks.1.attn.hook_zz", z => z.Fill(0)));
        Assert.Equal("blocks.1.attn.hook_z", e.Closest[0]);
        Assert.Contains("blocks.1.attn.hook_zz", e.Message);
        var hooked = Assert.Throws<UnknownNameException>(() => model.RunWithHooks(TokenBatch.Single(Ids), [("blocks.0.hook_resid_psot", (a, _) => null)]));
        Assert.Equal("blocks.0.hook_resid_post", hooked.Closest[0]);
        var weight = Assert.Throws<UnknownNameException>(() => model.Trace(Ids).Grad("blocks.0.mlp.out.w"));
        Assert.Equal("blocks.0.mlp.out.W", weight.Closest[0]);
        var (_, cache) = model.RunWithCache(TokenBatch.Single(Ids));
        var missing = Assert.Throws<KeyNotFoundException>(() => cache["blocks.0.hook_mlp_outt"]);
        Assert.Contains("closest cached: blocks.0.hook_mlp_out", missing.Message);
    }

    [Fact]
    public void ShapeMismatchesNameTheHookAndBothShapes()
    {
        var model = SmallModel();
        var assign = Assert.Throws<ArgumentException>(() => model.Trace(Ids).Edit(HookNames.Z(1), z => z[.., ^1, 3].Assign(Tensor.Zeros(5))).Run());
        Assert.Contains("blocks.1.attn.hook_z[.., ^1, 3]", assign.Message);
        Assert.Contains("[5]", assign.Message);
        Assert.Contains("[1, 8]", assign.Message);
        var replace = Assert.Throws<ArgumentException>(() => model.Trace(Ids).Replace(HookNames.ResidPre(1), _ => Tensor.Zeros(1, 2, 3)).Run());
        Assert.Contains("blocks.1.hook_resid_pre", replace.Message);
        Assert.Contains("[1, 2, 3]", replace.Message);
        Assert.Contains("[1, 6, 32]", replace.Message);
    }

    [Fact]
    public void GradientOfANonScalarIsAClearError()
    {
        var model = SmallModel();
        var e = Assert.Throws<ArgumentException>(() => model.Trace(Ids).Grad(HookNames.ResidPost(0)).Run((cx, logits) => logits));
        Assert.Contains("one element", e.Message);
        Assert.Contains("[1, 6, 40]", e.Message);
        Assert.Throws<InvalidOperationException>(() => model.Trace(Ids).Grad(HookNames.ResidPost(0)).Run());
    }
}

/// <summary>String prompts on the embedded default model (bf16, memory-mapped weights).</summary>
public class TraceOnDefaultModelTests
{
    [Fact]
    public void PromptOverloadsAgreeWithTokenIdsAndGradientsFlowThroughMappedWeights()
    {
        using var loaded = Pinpoint.Models.Loading.ModelLoader.Load(Pinpoint.Cli.ModelOptions.DefaultModelPath);
        const string prompt = "The cat sat on the";
        var metric = Metrics.LogitDiff(loaded.TokenId(" mat"), loaded.TokenId(" dog"));
        var byPrompt = loaded.Trace(prompt).Grad(HookNames.ResidPost(1), "blocks.3.mlp.out.W").Run(metric);
        var byIds = loaded.Model.Trace(loaded.Encode(prompt)).Run(metric);
        Assert.Equal(byIds.Metric, byPrompt.Metric);
        Assert.Equal(loaded.RunWithHooks(prompt, []).ToArray(), byIds.Logits.ToArray());
        Assert.Contains(byPrompt.Grad(HookNames.ResidPost(1)).ToArray(), g => g != 0);
        Assert.Contains(byPrompt.Grad("blocks.3.mlp.out.W").ToArray(), g => g != 0);
        Assert.Contains("2 tokens", Assert.Throws<ArgumentException>(() => loaded.TokenId(" mat mat")).Message);
    }
}
