import { render } from 'preact';
import uplotCss from 'uplot/dist/uPlot.min.css';
import { App } from './app.tsx';
import css from './styles.css';

const style = document.createElement('style');
style.textContent = `${uplotCss}\n${css}`;
document.head.append(style);
render(<App />, document.getElementById('app') as HTMLElement);
