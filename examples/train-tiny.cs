#:project ../src/Pinpoint.Training/Pinpoint.Training.csproj
#:property PublishAot=false
// Trains a tiny two-layer attention-only model from scratch on sequences whose second half repeats the first. The
// first half is random (ln 48 ≈ 3.87 nats a token at best), the second half can be copied, so a model that learns to
// copy approaches half that, ≈ 1.94. Writes metrics.jsonl and loss.svg to a temporary folder.
//   dotnet run examples/train-tiny.cs [STEPS]
using Pinpoint.Training;

int steps = args.Length > 0 ? int.Parse(args[0]) : 100;
const int vocab = 48;
var config = new TrainConfig
{
    Architecture = "gpt2", AttentionOnly = true, SaveCheckpoints = false, DModel = 64, NLayers = 2, NHeads = 4, Context = 32,
    VocabSize = vocab, BatchSize = 16, Steps = steps, LearningRate = 1e-2f, WarmupSteps = 10, EvalEvery = 20, EvalBatches = 2, Metrics = [],
};
var outDir = Path.Combine(Path.GetTempPath(), "pinpoint-train-tiny-" + Environment.ProcessId);
using (var trainer = new Trainer(config, new RepeatedHalves(vocab), vocab, tokenizer: null, outDir))
    trainer.Run(r =>
    {
        if (r.ValidationLoss is { } validation) Console.WriteLine($"step {r.Step,3}: train loss {r.TrainLoss:F3}, validation loss {validation:F3}");
    });
Console.WriteLine($"curve: {Path.Combine(outDir, "loss.svg")}");

/// <summary>Each row: context/2 random tokens, then the same tokens again.</summary>
sealed class RepeatedHalves(int vocab) : ITrainingData
{
    public void FillTrainBatch(int seed, int step, int micro, int batch, int context, int[] inputs, int[] targets)
    {
        var random = new Random(HashCode.Combine(seed, step, micro));
        for (int r = 0; r < batch; r++)
        {
            var row = new int[context + 1];
            for (int i = 0; i < row.Length; i++) row[i] = i < context / 2 ? random.Next(vocab) : row[i - context / 2];
            row.AsSpan(0, context).CopyTo(inputs.AsSpan(r * context));
            row.AsSpan(1, context).CopyTo(targets.AsSpan(r * context));
        }
    }

    public void FillValidationBatch(int index, int batches, int batch, int context, int[] inputs, int[] targets) =>
        FillTrainBatch(-1, index, 0, batch, context, inputs, targets);

    public void Dispose() { }
}
