import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

type CounterCfg<L extends string> = ConstructorParameters<typeof Counter<L>>[0];
type GaugeCfg<L extends string> = ConstructorParameters<typeof Gauge<L>>[0];
type HistogramCfg<L extends string> = ConstructorParameters<typeof Histogram<L>>[0];

/**
 * One Prometheus registry per app instance (tests run several apps in one process).
 * The factories return the already registered metric when a name is asked for twice,
 * so modules can declare what they need without coordinating.
 */
export class Metrics {
  readonly registry = new Registry();

  constructor(opts: { defaultMetrics: boolean; prefix?: string }) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(cfg: Omit<CounterCfg<L>, 'registers'>): Counter<L> {
    return this.existing(cfg.name) ?? new Counter<L>({ ...cfg, registers: [this.registry] });
  }

  gauge<L extends string>(cfg: Omit<GaugeCfg<L>, 'registers'>): Gauge<L> {
    return this.existing(cfg.name) ?? new Gauge<L>({ ...cfg, registers: [this.registry] });
  }

  histogram<L extends string>(cfg: Omit<HistogramCfg<L>, 'registers'>): Histogram<L> {
    return this.existing(cfg.name) ?? new Histogram<L>({ ...cfg, registers: [this.registry] });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(name) as T | undefined;
  }
}

/** Latency buckets in seconds, from 5 ms to 60 s. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
