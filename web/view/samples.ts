// A grid of test images with their true and predicted labels.
export const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The images with their class, the trained model's prediction and, when given, the prediction
 * of the same model at initialisation (what it guessed before learning anything). */
export function renderSamples(el: HTMLElement, pixels: Uint8Array, labels: Uint8Array, predicted: Uint32Array, predictedInit?: Uint32Array): void {
  el.replaceChildren(...Array.from(labels, (label, i) => {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    const img = new ImageData(28, 28);
    for (let p = 0; p < 784; p++) {
      const v = 255 - (pixels[i * 784 + p] ?? 0);
      img.data.set([v, v, v, 255], p * 4);
    }
    canvas.getContext('2d')?.putImageData(img, 0, 0);
    const pred = predicted[i] ?? 0;
    const truth = CLASS_NAMES[label] ?? String(label);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `test image ${i + 1}: ${truth}`);
    const cap = document.createElement('figcaption');
    const line = (p: number, when: string) => {
      const span = document.createElement('span');
      span.className = p === label ? 'right' : 'wrong';
      span.textContent = `${when}: ${CLASS_NAMES[p] ?? p}`;
      return span;
    };
    const name = document.createElement('span');
    name.textContent = truth;
    cap.append(name, document.createElement('br'), line(pred, 'trained'));
    if (predictedInit) cap.append(document.createElement('br'), line(predictedInit[i] ?? 0, 'at init'));
    fig.append(canvas, cap);
    return fig;
  }));
}
