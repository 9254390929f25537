using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>One top context as text: the tokens before the activating one, that token, and the tokens after.</summary>
public sealed record ContextText(double Activation, string Before, string Token, string After);

/// <summary>A neuron's strongest corpus contexts from a dashboard store: what it responds to, where reading its input weights through the embedding says little (deep layers).</summary>
public sealed record NeuronContexts(string Neuron, string Hook, double MaxActivation, double Density, IReadOnlyList<ContextText> Top);

public static class NeuronContextReadout
{
    public const int DefaultContexts = 3;

    /// <summary>
    /// The top contexts of each neuron whose layer has a store (at <c>blocks.{l}.mlp.hook_post</c>) in
    /// <paramref name="folder"/>, or in the model's own <see cref="DashboardFiles.DefaultFolder"/>; neurons of layers
    /// without one are left out, so the list is empty where no store exists.
    /// </summary>
    public static IReadOnlyList<NeuronContexts> For(LoadedModel model, IEnumerable<Component> neurons, string? folder = null, int contexts = DefaultContexts)
    {
        var stores = new Dictionary<string, DashboardStore?>();
        var result = new List<NeuronContexts>();
        foreach (var neuron in neurons.Where(n => n.Kind == ComponentKind.Neuron))
        {
            var hook = HookNames.MlpPost(neuron.Layer);
            if (!stores.TryGetValue(hook, out var store))
            {
                DashboardFiles.TryOpenFor(model, hook, out store, folder);
                stores[hook] = store;
            }
            if (store is null) continue;
            var unit = store.Units[neuron.Index];
            result.Add(new NeuronContexts(neuron.Name, hook, unit.MaxActivation, unit.Density, unit.Top.Take(contexts).Select(c => Text(store, c)).ToList()));
        }
        return result;
    }

    public static ContextText Text(DashboardStore store, ActivatingContext c)
    {
        string Join(IEnumerable<int> ids) => string.Concat(ids.Select(store.Text));
        return new ContextText(c.Activation, Join(c.Tokens.Take(c.Focus)), store.Text(c.Tokens[c.Focus]), Join(c.Tokens.Skip(c.Focus + 1)));
    }
}
