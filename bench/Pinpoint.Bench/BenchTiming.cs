using System.Diagnostics;

namespace Pinpoint.Bench;

public static class BenchTiming
{
    /// <summary>
    /// Best wall time of each action over <paramref name="rounds"/> rounds after <paramref name="warmUpRounds"/>
    /// untimed ones; the actions alternate within a round so background load on the shared machine hits them alike.
    /// </summary>
    public static double[] BestSeconds(int rounds, params Action[] actions) => BestSeconds(rounds, 1, actions);

    /// <inheritdoc cref="BestSeconds(int, Action[])"/>
    /// <param name="warmUpRounds">Enough for code run once per call (not inside kernels' loops) to reach the JIT's optimised tier.</param>
    public static double[] BestSeconds(int rounds, int warmUpRounds, params Action[] actions)
    {
        var best = new double[actions.Length];
        Array.Fill(best, double.MaxValue);
        for (int round = 1 - warmUpRounds; round <= rounds; round++)
        {
            for (int i = 0; i < actions.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                actions[i]();
                if (round > 0) best[i] = Math.Min(best[i], sw.Elapsed.TotalSeconds);
            }
        }
        return best;
    }
}
