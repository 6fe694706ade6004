import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import { BarChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, MarkLineComponent, MarkAreaComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

// Only what the pages draw is registered: the bundle stays well under 500 kB gzipped.
echarts.use([BarChart, LineChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, MarkLineComponent, MarkAreaComponent, CanvasRenderer]);

export type ChartOption = echarts.EChartsCoreOption;

/** One ECharts canvas that follows its box's size (1280 px and 390 px layouts). */
export function Chart({ option, height = 300, label }: { option: ChartOption; height?: number; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    const c = echarts.init(el.current!, undefined, { renderer: 'canvas' });
    chart.current = c;
    // Only a real change of size re-lays the chart out: the observer's first call (on observe) would
    // draw every bar a second time.
    const ro = new ResizeObserver(([e]) => {
      const { width, height } = e!.contentRect;
      if (Math.round(width) !== c.getWidth() || Math.round(height) !== c.getHeight()) c.resize();
    });
    ro.observe(el.current!);
    return () => {
      ro.disconnect();
      c.dispose();
    };
  }, []);
  useEffect(() => {
    const c = chart.current;
    const box = el.current;
    if (!c || !box) return;
    // data-drawn: this option is on the canvas (ECharts' `finished`: rendered, no animation left);
    // the browser tests time the overview's first render by it.
    box.dataset.drawn = 'false';
    const done = () => {
      box.dataset.drawn = 'true';
      c.off('finished', done);
    };
    c.on('finished', done);
    c.setOption(option, { notMerge: true });
    return () => void c.off('finished', done);
  }, [option]);
  return <div className="chart" role="img" aria-label={label} ref={el} style={{ height }} />;
}

export const PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16', '#f97316', '#64748b', '#14b8a6', '#a855f7', '#eab308', '#0ea5e9', '#d946ef'];

/** A stacked bar chart over categories (days, teams…), with named axes (units, currency, zone). */
export function stackedBars(o: {
  categories: string[];
  series: Array<{ name: string; data: number[] }>;
  xName: string;
  yName: string;
  money?: boolean;
  horizontal?: boolean;
}): ChartOption {
  const fmt = (v: number) => (o.money ? `$${Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 }).format(v)}` : Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(v));
  const cat = { type: 'category', data: o.categories, name: o.xName, nameLocation: 'middle', nameGap: o.horizontal ? 90 : 28, axisLabel: { hideOverlap: true } };
  const val = { type: 'value', name: o.yName, nameLocation: 'middle', nameGap: o.horizontal ? 28 : 52, axisLabel: { formatter: fmt } };
  return {
    color: PALETTE,
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      valueFormatter: (v: number) => (o.money ? `$${v.toFixed(4)}` : v.toLocaleString('en-US')),
      confine: true,
    },
    legend: { type: 'scroll', top: 0 },
    grid: { left: o.horizontal ? 110 : 64, right: 16, top: 36, bottom: 44, containLabel: false },
    xAxis: o.horizontal ? val : cat,
    yAxis: o.horizontal ? { ...cat, inverse: true, axisLabel: { width: 90, overflow: 'truncate' } } : val,
    // large: a series of more than 60 bars is drawn as one path instead of one element per bar
    // (the 90-day overview: 1,800 bars; its first draw took 2.3 times longer without it).
    series: o.series.map((s) => ({ name: s.name, type: 'bar', stack: 'total', data: s.data, barMaxWidth: 40, large: true, largeThreshold: 60, emphasis: { focus: 'series' } })),
    // No entry animation: a 90-day stacked chart has ~1,800 bars, and a dashboard is read, not watched.
    animation: false,
  };
}
