import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/** Points of one metric: epoch ms and value, oldest first. */
export interface Series {
  readonly ts: number[];
  readonly values: number[];
}

/**
 * A live line chart of one metric (uPlot). It keeps its uPlot instance and only hands it new
 * data, so a reading a second costs a redraw, not a rebuild.
 */
export function MetricChart(props: {
  name: string;
  unit?: string;
  series: Series;
  version: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const chart = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 180,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{ stroke: '#8a94a6' }, { stroke: '#8a94a6', size: 50 }],
        series: [{}, { label: props.name, stroke: '#3b82f6', width: 2, points: { show: false } }],
      },
      [[], []],
      el,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(300, el.clientWidth), height: 180 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = undefined;
    };
  }, [props.name]);

  useEffect(() => {
    plot.current?.setData([props.series.ts.map((t) => t / 1000), props.series.values]);
  }, [props.version, props.series]);

  return (
    <div class="chart" data-testid={`chart-${props.name}`} data-points={props.series.ts.length}>
      <div class="chart-title">
        {props.name}
        {props.unit ? ` (${props.unit})` : ''}
        <span class="muted"> · {props.series.ts.length} points</span>
      </div>
      <div ref={box} />
    </div>
  );
}
